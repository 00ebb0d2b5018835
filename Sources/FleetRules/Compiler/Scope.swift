/// A declared telemetry field: its unit, plausible range and expected reporting interval.
public struct MetricDecl: Sendable, Hashable {
    public var name: String
    public var unit: String
    public var range: ClosedRange<Double>?
    public var interval: Double?
    public var description: String?
    public var location: SourceRange
}

/// A named constant list (`lists:`).
public struct ListDecl: Sendable {
    public var name: String
    public var values: [Constant]
    public var elementType: ValueType
    public var location: SourceRange
}

/// A named boolean expression (`macros:`), checked once where it is defined.
public struct MacroDecl: Sendable {
    public var name: String
    public var expression: Expression?
    public var location: SourceRange
}

/// The names an expression can refer to: metrics and attributes are fleet-wide, lists and
/// macros belong to one pack.
public struct Scope: Sendable {
    public var metrics: [String: MetricDecl] = [:]
    public var attributes: [String: ValueType] = Scope.standardAttributes
    public var lists: [String: ListDecl] = [:]
    public var macros: [String: MacroDecl] = [:]

    /// The inventory columns every fleet has (ARCHITECTURE.md "Telemetry and inventory").
    public static let standardAttributes: [String: ValueType] = [
        "device": .string, "type": .string, "site": .string, "zone": .string, "gateway": .string,
        "reachable": .string, "firmware": .string, "criticality": .string, "power": .string,
    ]

    public init() {}

    /// Every name, for "did you mean" hints.
    var allNames: [String] {
        Array(metrics.keys) + Array(attributes.keys) + Array(lists.keys) + Array(macros.keys) + ["now"]
    }
}

/// Units the checker recognises; others are accepted with a warning (W0307).
public enum KnownUnits {
    public static let all: Set<String> = [
        "percent", "ratio", "celsius", "fahrenheit", "kelvin", "dBm", "dB", "g", "m/s2", "mm/s", "volt", "V", "mV",
        "ampere", "A", "mA", "watt", "W", "kW", "Wh", "kWh", "hPa", "Pa", "kPa", "bar", "ppm", "ppb", "lux", "count",
        "s", "ms", "seconds", "m", "km", "meters", "Hz", "hertz", "rpm", "bytes", "dimensionless",
    ]
}
