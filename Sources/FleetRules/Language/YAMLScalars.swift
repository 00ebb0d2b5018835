/// Scalar readers with located errors, shared by every YAML file the project reads (policies,
/// delivery configuration), so the same mistake gets the same message everywhere.
extension DiagnosticBag {
    public mutating func string(_ node: YAMLNode, _ place: String) -> String? {
        guard case .scalar(let s, _) = node.kind, !node.isNull else {
            error(.wrongType, "\(place) must be a string, found \(node.typeDescription)", at: node.range)
            return nil
        }
        return s
    }

    public mutating func integer(_ node: YAMLNode, _ place: String, minimum: Int) -> Int? {
        guard case .scalar(let s, .plain) = node.kind, let v = Int(s) else {
            error(.wrongType, "\(place) must be a whole number, found \(node.typeDescription)", at: node.range)
            return nil
        }
        guard v >= minimum else {
            error(.invalidValue, "\(place) must be at least \(minimum), found \(v)", at: node.range)
            return nil
        }
        return v
    }

    public mutating func bool(_ node: YAMLNode, _ place: String) -> Bool? {
        if case .scalar(let s, .plain) = node.kind, s == "true" || s == "false" { return s == "true" }
        error(.wrongType, "\(place) must be true or false, found \(node.typeDescription)", at: node.range)
        return nil
    }
}
