/// One key a mapping of the language accepts: the single source for the decoder's key checks
/// ("unknown key", "missing field") and for the JSON Schema `fleetrules schema` prints.
public struct FieldSpec: Sendable {
    public var name: String
    public var type: FieldType
    public var required: Bool
    public var doc: String

    public init(_ name: String, _ type: FieldType, required: Bool = false, _ doc: String) {
        self.name = name
        self.type = type
        self.required = required
        self.doc = doc
    }
}

/// The shape of a field's value, as far as a JSON Schema can describe it.
public indirect enum FieldType: Sendable {
    case text
    case name
    case condition
    case numericExpression
    case duration
    case number
    case integer(minimum: Int)
    case ratio
    case timestamp
    case versionRange
    case version
    case choice([String])
    case list(FieldType)
    case map(FieldType)
    case object([FieldSpec])
    case oneOf([FieldType])
    case numberRange
    /// A count of readings: `3 readings`.
    case readings

    public static let severity = FieldType.choice(["info", "warning", "critical"])
}

/// The tables of keys per place in a pack; rule kinds add theirs in their own files.
public enum LanguageSpec {
    public static let metric: [FieldSpec] = [
        FieldSpec("unit", .text, required: true, "unit of the values, e.g. percent, celsius, dBm, g"),
        FieldSpec("range", .numberRange, "plausible [min, max]; readings outside are rejected as out of range"),
        FieldSpec(
            "interval", .duration, "expected reporting interval; `for` and windows shorter than it are warned about"),
        FieldSpec("description", .text, "what the metric measures"),
    ]

    /// An attribute declared as a mapping: `{ type: number, unit: celsius }`.
    public static let attribute: [FieldSpec] = [
        FieldSpec("type", .choice(["string", "number", "version"]), required: true, "the column's type"),
        FieldSpec("unit", .text, "a number's unit, so that it compares with metrics of that unit"),
    ]

    public static let defaults: [FieldSpec] = [
        FieldSpec("for", .duration, "default `for` of alert and limit rules in this file"),
        FieldSpec("severity", .severity, "default severity of rules in this file"),
        FieldSpec("labels", .map(.text), "labels added to every rule of this file"),
    ]

    /// The pack's `schedule:` section: how maintenance tasks are grouped into site visits.
    public static let schedule: [FieldSpec] = [
        FieldSpec(
            "horizon", .duration,
            "how much earlier than its due time a task may be pulled to join a planned visit (default 3d)"),
        FieldSpec("max_tasks_per_visit", .integer(minimum: 1), "the most tasks one site visit takes (default 8)"),
    ]

    public static let maintenance: FieldType = .oneOf([
        .name,
        .object([
            FieldSpec("task", .name, required: true, "maintenance task, e.g. replace-battery"),
            FieldSpec("lead", .duration, "schedule the visit this long before the predicted failure"),
            FieldSpec("parts", .oneOf([.text, .list(.text)]), "parts to bring, e.g. battery pack"),
        ]),
    ])

    /// Keys every rule kind accepts.
    public static let commonRule: [FieldSpec] = [
        FieldSpec("description", .text, "what the rule is for, shown in reports"),
        FieldSpec("where", .condition, "inventory filter: which devices the rule applies to"),
        FieldSpec("severity", .severity, "info, warning or critical"),
        FieldSpec("labels", .map(.text), "extra labels on the rule's alerts, used by routing"),
        FieldSpec("summary", .text, "alert text; {{device}}, {{value}} and other fields are replaced"),
        FieldSpec("maintenance", maintenance, "the task to schedule while the rule fires"),
    ]

    public static let topLevel: [FieldSpec] = [
        FieldSpec("fleetrules", .integer(minimum: 1), required: true, "language version; must be 1"),
        FieldSpec("pack", .name, required: true, "pack name, shown in alerts and reports"),
        FieldSpec("description", .text, "what the pack is for"),
        FieldSpec("metrics", .map(.object(metric)), "declared telemetry fields with unit and range"),
        FieldSpec(
            "attributes", .map(.oneOf([.choice(["string", "number", "version"]), .object(attribute)])),
            "inventory columns beyond the standard ones, with their type (and a number's unit)"),
        FieldSpec("lists", .map(.list(.oneOf([.text, .number]))), "named constant lists, used with `in`"),
        FieldSpec("macros", .map(.condition), "named boolean expressions, reusable in conditions"),
        FieldSpec("defaults", .object(defaults), "defaults for the rules of this file"),
        FieldSpec("schedule", .object(schedule), "how maintenance tasks are grouped into site visits"),
        FieldSpec("rules", .list(.text), "the rules; each starts with its kind: alert, forecast, …"),
        FieldSpec(
            "time_intervals", .map(.list(.object(TimeIntervalReader.entryFields))),
            "named recurring intervals in a time zone, for `active_during` and `mute_during`"),
    ]

    /// Every rule kind with the keys it accepts beyond `commonRule` (the kind key itself excluded).
    public static var ruleKinds: [(kind: RuleKind, fields: [FieldSpec])] {
        RuleKind.allCases.map { ($0, $0.fields) }
    }
}
