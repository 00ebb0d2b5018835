/// The JSON Schema (draft 2020-12) of policy files, generated from the same key tables the
/// decoder uses, so editors and `fleetrules check` agree on what is accepted.
public enum PolicySchema {
    public static let id = "https://fleetrules.dev/schema/policy-v1.json"

    public static func document() -> JSONValue {
        var topProperties: [(String, JSONValue)] = []
        for f in LanguageSpec.topLevel {
            if f.name == "rules" {
                topProperties.append(
                    (
                        "rules",
                        .object([
                            ("description", .string(f.doc)), ("type", "array"),
                            ("items", .object([("$ref", "#/$defs/rule")])),
                        ])
                    ))
            } else if f.name == "fleetrules" {
                topProperties.append(("fleetrules", .object([("description", .string(f.doc)), ("const", 1)])))
            } else {
                topProperties.append((f.name, schema(f.type, doc: f.doc)))
            }
        }
        let rules: [JSONValue] = RuleKind.allCases.map { .object([("$ref", .string("#/$defs/\($0.rawValue)"))]) }
        var defs: [(String, JSONValue)] = [("rule", .object([("oneOf", .array(rules))]))]
        for kind in RuleKind.allCases { defs.append((kind.rawValue, ruleSchema(kind))) }
        return .object([
            ("$schema", "https://json-schema.org/draft/2020-12/schema"),
            ("$id", .string(id)),
            ("title", "FleetRules policy file, language version 1"),
            ("type", "object"),
            ("required", ["fleetrules", "pack"]),
            ("additionalProperties", false),
            ("properties", .object(topProperties)),
            ("$defs", .object(defs)),
        ])
    }

    static func ruleSchema(_ kind: RuleKind) -> JSONValue {
        var fields = kind.fields
        for common in LanguageSpec.commonRule where !fields.contains(where: { $0.name == common.name }) {
            fields.append(common)
        }
        var properties: [(String, JSONValue)] = [
            (kind.rawValue, schema(.name, doc: "rule id: \(kind.summary)"))
        ]
        properties += fields.map { ($0.name, schema($0.type, doc: $0.doc)) }
        let required = [kind.rawValue] + fields.filter(\.required).map(\.name)
        var members: [(String, JSONValue)] = [
            ("description", .string("\(kind.rawValue) rule: \(kind.summary)")),
            ("type", "object"),
            ("required", .array(required.map { .string($0) })),
            ("additionalProperties", false),
            ("properties", .object(properties)),
        ]
        if kind == .alert { members.append(("oneOf", AlertRule.conditionSchema)) }
        return .object(members)
    }

    static let durationPattern = "^([0-9]+(\\.[0-9]+)?(ms|s|m|h|d|w))+$"

    static func schema(_ type: FieldType, doc: String? = nil) -> JSONValue {
        var members: [(String, JSONValue)] = []
        if let doc { members.append(("description", .string(doc))) }
        switch type {
        case .text, .condition, .numericExpression, .versionRange, .version:
            members.append(("type", "string"))
        case .name:
            members += [("type", "string"), ("pattern", "^[a-z][a-z0-9_-]*$")]
        case .duration:
            members += [("type", "string"), ("pattern", .string(durationPattern))]
        case .number:
            members.append(("type", "number"))
        case .integer(let minimum):
            members += [("type", "integer"), ("minimum", .number(Double(minimum)))]
        case .ratio:
            members.append(
                (
                    "anyOf",
                    [
                        .object([("type", "number"), ("minimum", 0), ("maximum", 1)]),
                        .object([("type", "string"), ("pattern", "^[0-9]+(\\.[0-9]+)?%$")]),
                    ]
                ))
        case .timestamp:
            members += [("type", "string"), ("format", "date-time")]
        case .choice(let options):
            members.append(("enum", .array(options.map { .string($0) })))
        case .list(let element):
            members += [("type", "array"), ("items", schema(element))]
        case .map(let value):
            members += [("type", "object"), ("additionalProperties", schema(value))]
        case .object(let fields):
            members += [
                ("type", "object"),
                ("additionalProperties", false),
                ("properties", .object(fields.map { ($0.name, schema($0.type, doc: $0.doc)) })),
            ]
            let required = fields.filter(\.required).map { JSONValue.string($0.name) }
            if !required.isEmpty { members.append(("required", .array(required))) }
        case .oneOf(let options):
            members.append(("anyOf", .array(options.map { schema($0) })))
        case .readings:
            members += [("type", "string"), ("pattern", .string(Debounce.readingsPattern))]
        case .numberRange:
            members += [
                ("type", "array"), ("minItems", 2), ("maxItems", 2),
                ("items", .object([("type", ["number", "null"])])),
            ]
        }
        return .object(members)
    }
}
