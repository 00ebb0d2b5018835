extension AlertEpisode {
    /// The severities an alert with levels went through, first to current (nil: it never changed
    /// severity), from its `severity_changes` evidence.
    public var severityPath: [String]? {
        guard let changes = evidence.first(where: { $0.0 == "severity_changes" })?.1,
            case .array(let list) = changes, !list.isEmpty
        else { return nil }
        var path: [String] = []
        for change in list {
            guard case .string(let from)? = change["from"], case .string(let to)? = change["to"] else { continue }
            if path.isEmpty { path.append(from) }
            path.append(to)
        }
        return path.isEmpty ? nil : path
    }

    /// `levels: warning → critical`, the marker tables and HTML show for a severity change.
    var severityPathText: String? { severityPath.map { "levels: " + $0.joined(separator: " → ") } }
}
