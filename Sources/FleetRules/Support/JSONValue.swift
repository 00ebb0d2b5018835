/// A JSON document with ordered object keys, so every output FleetRules writes is byte-stable.
public indirect enum JSONValue: Sendable, Hashable {
    /// `null`.
    case null
    /// `true` or `false`.
    case bool(Bool)
    /// A number (written without a fraction when it is an integer below 10^15).
    case number(Double)
    /// A string.
    case string(String)
    /// An array.
    case array([JSONValue])
    /// An object, its members in order (keys are not deduplicated).
    case object([(String, JSONValue)])

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): true
        case (.bool(let x), .bool(let y)): x == y
        case (.number(let x), .number(let y)): x == y
        case (.string(let x), .string(let y)): x == y
        case (.array(let x), .array(let y)): x == y
        case (.object(let x), .object(let y)):
            x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: false
        }
    }

    public func hash(into h: inout Hasher) {
        switch self {
        case .null: h.combine(0)
        case .bool(let b): h.combine(b)
        case .number(let n): h.combine(n)
        case .string(let s): h.combine(s)
        case .array(let a): h.combine(a)
        case .object(let o):
            for (k, v) in o {
                h.combine(k)
                h.combine(v)
            }
        }
    }

    /// Serialises the value; `pretty` indents by two spaces.
    public func serialized(pretty: Bool = false) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(4096)
        write(to: &out, pretty: pretty, indent: 0)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the value as `serialized(pretty:)` writes it nested `indent` levels deep.
    func write(to out: inout [UInt8], pretty: Bool, indent: Int) {
        switch self {
        case .null: JSONValue.append("null", to: &out)
        case .bool(let b): JSONValue.append(b ? "true" : "false", to: &out)
        case .number(let n): JSONValue.append(JSONValue.format(n), to: &out)
        case .string(let s): JSONValue.quote(s, into: &out)
        case .array(let items):
            if items.isEmpty {
                JSONValue.append("[]", to: &out)
                return
            }
            out.append(0x5B)
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(0x2C) }
                if pretty { JSONValue.newline(&out, indent + 1) }
                item.write(to: &out, pretty: pretty, indent: indent + 1)
            }
            if pretty { JSONValue.newline(&out, indent) }
            out.append(0x5D)
        case .object(let members):
            if members.isEmpty {
                JSONValue.append("{}", to: &out)
                return
            }
            out.append(0x7B)
            for (i, (key, value)) in members.enumerated() {
                if i > 0 { out.append(0x2C) }
                if pretty { JSONValue.newline(&out, indent + 1) }
                JSONValue.quote(key, into: &out)
                out.append(0x3A)
                if pretty { out.append(0x20) }
                value.write(to: &out, pretty: pretty, indent: indent + 1)
            }
            if pretty { JSONValue.newline(&out, indent) }
            out.append(0x7D)
        }
    }

    private static func append(_ s: String, to out: inout [UInt8]) {
        var s = s
        s.withUTF8 { out.append(contentsOf: $0) }
    }

    static func newline(_ out: inout [UInt8], _ indent: Int) {
        out.append(0x0A)
        out.append(contentsOf: repeatElement(0x20, count: indent * 2))
    }

    static func quote(_ s: String, into out: inout [UInt8]) {
        out.append(0x22)
        var s = s
        s.withUTF8 { bytes in
            for byte in bytes {
                switch byte {
                case 0x22: out.append(contentsOf: [0x5C, 0x22])
                case 0x5C: out.append(contentsOf: [0x5C, 0x5C])
                case 0x0A: out.append(contentsOf: [0x5C, 0x6E])
                case 0x0D: out.append(contentsOf: [0x5C, 0x72])
                case 0x09: out.append(contentsOf: [0x5C, 0x74])
                case 0..<0x20:
                    let hex = Array(String(byte, radix: 16).utf8)
                    out.append(contentsOf: [0x5C, 0x75, 0x30, 0x30])
                    if hex.count < 2 { out.append(0x30) }
                    out.append(contentsOf: hex)
                default: out.append(byte)
                }
            }
        }
        out.append(0x22)
    }

    static func quote(_ s: String, into out: inout String) {
        var bytes: [UInt8] = []
        quote(s, into: &bytes)
        out += String(decoding: bytes, as: UTF8.self)
    }

    /// Integers print without a fraction; non-finite numbers (never valid JSON) print as null.
    public static func format(_ n: Double) -> String {
        guard n.isFinite else { return "null" }
        if n == n.rounded(), abs(n) < 1e15 { return String(Int64(n)) }
        return "\(n)"
    }

}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByArrayLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
}

extension JSONValue {
    /// `.string` or `.null` for an optional.
    public static func string(_ s: String?) -> JSONValue { s.map { .string($0) } ?? .null }
}

/// Writes one pretty-printed JSON object member by member to a `ByteSink`, byte-identical to
/// `JSONValue.object(…).serialized(pretty: true)`, so that an array of a million entries is
/// never held in memory: `member` for a whole value, `beginArray`/`item`/`endArray` for an
/// array written an element at a time.
struct PrettyJSONObjectWriter {
    private let sink: ByteSink
    private var members = 0
    private var items = 0
    private var scratch: [UInt8] = []

    init(_ sink: ByteSink) {
        self.sink = sink
        sink.append(0x7B)
    }

    private mutating func key(_ name: String) {
        scratch.removeAll(keepingCapacity: true)
        if members > 0 { scratch.append(0x2C) }
        members += 1
        JSONValue.newline(&scratch, 1)
        JSONValue.quote(name, into: &scratch)
        scratch.append(contentsOf: [0x3A, 0x20])
        sink.append(scratch)
    }

    mutating func member(_ name: String, _ value: JSONValue) {
        key(name)
        scratch.removeAll(keepingCapacity: true)
        value.write(to: &scratch, pretty: true, indent: 1)
        sink.append(scratch)
    }

    mutating func beginArray(_ name: String) {
        key(name)
        items = 0
    }

    mutating func item(_ value: JSONValue) {
        scratch.removeAll(keepingCapacity: true)
        scratch.append(items == 0 ? 0x5B : 0x2C)
        items += 1
        JSONValue.newline(&scratch, 2)
        value.write(to: &scratch, pretty: true, indent: 2)
        sink.append(scratch)
    }

    mutating func endArray() {
        if items == 0 {
            sink.append([0x5B, 0x5D])
        } else {
            scratch.removeAll(keepingCapacity: true)
            JSONValue.newline(&scratch, 1)
            scratch.append(0x5D)
            sink.append(scratch)
        }
    }

    /// Closes the object (`{}` when it has no member).
    mutating func end() {
        if members == 0 {
            sink.append(0x7D)
            return
        }
        sink.append(0x0A)
        sink.append(0x7D)
    }
}
