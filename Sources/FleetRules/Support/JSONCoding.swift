import Foundation

/// Encodes `Encodable` values with FleetRules' own JSON writer: object keys in the order they
/// are encoded, integers without a fraction, `/` unescaped, `Date` as an RFC 3339 timestamp, and
/// pretty-printing as `fleetrules run --format json` does (two spaces, `"key": value`). Encoding a
/// ``Report`` gives the bytes `fleetrules run --format json` writes.
///
/// ```swift
/// let data = try FleetJSONEncoder().encode(report)
/// ```
public struct FleetJSONEncoder: Sendable {
    /// Indent by two spaces and end with a newline, as the report files are written; `false` writes
    /// one line without a final newline.
    public var pretty: Bool

    /// An encoder that pretty-prints (`pretty: true`) or writes one line.
    public init(pretty: Bool = true) {
        self.pretty = pretty
    }

    /// The value as JSON text bytes.
    /// - Throws: `EncodingError` when a value refuses to encode.
    public func encode<T: Encodable>(_ value: T) throws -> Data {
        let text = try encodeValue(value).serialized(pretty: pretty)
        return Data((pretty ? text + "\n" : text).utf8)
    }

    /// The value as a `JSONValue` document, keys in encoding order.
    /// - Throws: `EncodingError` when a value refuses to encode.
    public func encodeValue<T: Encodable>(_ value: T) throws -> JSONValue {
        let node = JSONNode()
        try JSONNode.encode(value, into: node, path: [])
        return node.resolved
    }
}

/// Decodes `Decodable` values from JSON read by FleetRules' own parser, which keeps object keys
/// in document order (Foundation's `JSONDecoder` does not). Decoding a ``Report`` with it and
/// encoding with ``FleetJSONEncoder`` reproduces any `fleetrules run` report byte for byte,
/// including sections a newer version wrote that this one does not type.
public struct FleetJSONDecoder: Sendable {
    /// A decoder.
    public init() {}

    /// Decodes a value from JSON text bytes.
    /// - Throws: `DecodingError` (`dataCorrupted` for text that is not JSON).
    public func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        let root: JSONValue
        do {
            root = try JSONValue.parse(String(decoding: data, as: UTF8.self))
        } catch {
            throw DecodingError.dataCorrupted(
                .init(codingPath: [], debugDescription: "not valid JSON (\(error.description))", underlyingError: error)
            )
        }
        return try decode(type, from: root)
    }

    /// Decodes a value from a parsed document.
    /// - Throws: `DecodingError`.
    public func decode<T: Decodable>(_ type: T.Type, from value: JSONValue) throws -> T {
        try JSONValueDecoding.unbox(value, as: type, path: [])
    }
}

/// A coding key for any string or index.
struct AnyCodingKey: CodingKey {
    var stringValue: String
    var intValue: Int?

    init(stringValue: String) {
        self.stringValue = stringValue
        self.intValue = nil
    }

    init(intValue: Int) {
        self.stringValue = "\(intValue)"
        self.intValue = intValue
    }
}

extension JSONValue: Codable {
    /// Writes the value through any encoder: objects as keyed containers, keys in order. Under
    /// ``FleetJSONEncoder`` the value is taken as it is.
    public func encode(to encoder: Encoder) throws {
        if let own = encoder as? JSONNodeEncoder {
            own.node.value = self
            return
        }
        switch self {
        case .null:
            var c = encoder.singleValueContainer()
            try c.encodeNil()
        case .bool(let b):
            var c = encoder.singleValueContainer()
            try c.encode(b)
        case .number(let n):
            var c = encoder.singleValueContainer()
            if n.isFinite { try c.encode(n) } else { try c.encodeNil() }
        case .string(let s):
            var c = encoder.singleValueContainer()
            try c.encode(s)
        case .array(let items):
            var c = encoder.unkeyedContainer()
            for item in items { try c.encode(item) }
        case .object(let members):
            var c = encoder.container(keyedBy: AnyCodingKey.self)
            for (key, value) in members { try c.encode(value, forKey: AnyCodingKey(stringValue: key)) }
        }
    }

    /// Reads any JSON value. Under ``FleetJSONDecoder`` the document's key order is kept; other
    /// decoders (Foundation's `JSONDecoder`) do not report it, so object keys are sorted.
    public init(from decoder: Decoder) throws {
        if let own = decoder as? JSONValueDecoding {
            self = own.value
            return
        }
        if let c = try? decoder.singleValueContainer() {
            if c.decodeNil() {
                self = .null
                return
            }
            if let b = try? c.decode(Bool.self) {
                self = .bool(b)
                return
            }
            if let n = try? c.decode(Double.self) {
                self = .number(n)
                return
            }
            if let s = try? c.decode(String.self) {
                self = .string(s)
                return
            }
        }
        if var c = try? decoder.unkeyedContainer() {
            var items: [JSONValue] = []
            while !c.isAtEnd { items.append(try c.decode(JSONValue.self)) }
            self = .array(items)
            return
        }
        let c = try decoder.container(keyedBy: AnyCodingKey.self)
        let keys = c.allKeys.sorted { $0.stringValue < $1.stringValue }
        self = .object(try keys.map { ($0.stringValue, try c.decode(JSONValue.self, forKey: $0)) })
    }

    /// Whether a decoder keeps the document's key order (``FleetJSONDecoder`` does).
    static func keepsKeyOrder(_ decoder: Decoder) -> Bool { decoder is JSONValueDecoding }
}

// MARK: - Encoding

/// A value being encoded: a finished value, or an array or object whose parts are still filled.
final class JSONNode {
    var value: JSONValue?
    var items: [JSONNode]?
    var members: [(String, JSONNode)]?

    var resolved: JSONValue {
        if let items { return .array(items.map(\.resolved)) }
        if let members { return .object(members.map { ($0.0, $0.1.resolved) }) }
        return value ?? .object([])
    }

    static func encode<T: Encodable>(_ v: T, into node: JSONNode, path: [CodingKey]) throws {
        switch v {
        case let j as JSONValue: node.value = j
        case let d as Date: node.value = .string(Timestamp.format(d.timeIntervalSince1970))
        case let u as URL: node.value = .string(u.absoluteString)
        case let d as Data: node.value = .string(d.base64EncodedString())
        default: try v.encode(to: JSONNodeEncoder(node: node, codingPath: path))
        }
    }

    static func number<N: BinaryInteger>(_ n: N) -> JSONValue { .number(Double(n)) }
}

struct JSONNodeEncoder: Encoder {
    let node: JSONNode
    var codingPath: [CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if node.members == nil { node.members = [] }
        return KeyedEncodingContainer(KeyedNodeContainer<Key>(node: node, codingPath: codingPath))
    }

    func unkeyedContainer() -> UnkeyedEncodingContainer {
        if node.items == nil { node.items = [] }
        return UnkeyedNodeContainer(node: node, codingPath: codingPath)
    }

    func singleValueContainer() -> SingleValueEncodingContainer {
        SingleNodeContainer(node: node, codingPath: codingPath)
    }
}

struct KeyedNodeContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let node: JSONNode
    var codingPath: [CodingKey]

    private func child(_ key: Key) -> JSONNode { child(key.stringValue) }

    private func child(_ name: String) -> JSONNode {
        let c = JSONNode()
        if let i = node.members?.firstIndex(where: { $0.0 == name }) {
            node.members?[i].1 = c
        } else {
            node.members?.append((name, c))
        }
        return c
    }

    private func put(_ v: JSONValue, _ key: Key) { child(key).value = v }

    mutating func encodeNil(forKey key: Key) throws { put(.null, key) }
    mutating func encode(_ v: Bool, forKey key: Key) throws { put(.bool(v), key) }
    mutating func encode(_ v: String, forKey key: Key) throws { put(.string(v), key) }
    mutating func encode(_ v: Double, forKey key: Key) throws { put(.number(v), key) }
    mutating func encode(_ v: Float, forKey key: Key) throws { put(.number(Double(v)), key) }
    mutating func encode(_ v: Int, forKey key: Key) throws { put(JSONNode.number(v), key) }
    mutating func encode(_ v: Int8, forKey key: Key) throws { put(JSONNode.number(v), key) }
    mutating func encode(_ v: Int16, forKey key: Key) throws { put(JSONNode.number(v), key) }
    mutating func encode(_ v: Int32, forKey key: Key) throws { put(JSONNode.number(v), key) }
    mutating func encode(_ v: Int64, forKey key: Key) throws { put(JSONNode.number(v), key) }
    mutating func encode(_ v: UInt, forKey key: Key) throws { put(JSONNode.number(v), key) }
    mutating func encode(_ v: UInt8, forKey key: Key) throws { put(JSONNode.number(v), key) }
    mutating func encode(_ v: UInt16, forKey key: Key) throws { put(JSONNode.number(v), key) }
    mutating func encode(_ v: UInt32, forKey key: Key) throws { put(JSONNode.number(v), key) }
    mutating func encode(_ v: UInt64, forKey key: Key) throws { put(JSONNode.number(v), key) }

    mutating func encode<T: Encodable>(_ v: T, forKey key: Key) throws {
        try JSONNode.encode(v, into: child(key), path: codingPath + [key])
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type, forKey key: Key
    ) -> KeyedEncodingContainer<NestedKey> {
        JSONNodeEncoder(node: child(key), codingPath: codingPath + [key]).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> UnkeyedEncodingContainer {
        JSONNodeEncoder(node: child(key), codingPath: codingPath + [key]).unkeyedContainer()
    }

    mutating func superEncoder() -> Encoder {
        JSONNodeEncoder(node: child("super"), codingPath: codingPath + [AnyCodingKey(stringValue: "super")])
    }

    mutating func superEncoder(forKey key: Key) -> Encoder {
        JSONNodeEncoder(node: child(key), codingPath: codingPath + [key])
    }
}

struct UnkeyedNodeContainer: UnkeyedEncodingContainer, PrimitivePutting {
    let node: JSONNode
    var codingPath: [CodingKey]
    var count: Int { node.items?.count ?? 0 }

    private func child() -> JSONNode {
        let c = JSONNode()
        node.items?.append(c)
        return c
    }

    func put(_ v: JSONValue) { child().value = v }

    mutating func encode<T: Encodable>(_ v: T) throws {
        try JSONNode.encode(v, into: child(), path: codingPath + [AnyCodingKey(intValue: count)])
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<
        NestedKey
    > {
        JSONNodeEncoder(node: child(), codingPath: codingPath).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer() -> UnkeyedEncodingContainer {
        JSONNodeEncoder(node: child(), codingPath: codingPath).unkeyedContainer()
    }

    mutating func superEncoder() -> Encoder { JSONNodeEncoder(node: child(), codingPath: codingPath) }
}

/// The primitive `encode` methods of the unkeyed and single-value containers: each puts its
/// value where the container writes next.
protocol PrimitivePutting {
    func put(_ v: JSONValue)
}

extension PrimitivePutting {
    mutating func encodeNil() throws { put(.null) }
    mutating func encode(_ v: Bool) throws { put(.bool(v)) }
    mutating func encode(_ v: String) throws { put(.string(v)) }
    mutating func encode(_ v: Double) throws { put(.number(v)) }
    mutating func encode(_ v: Float) throws { put(.number(Double(v))) }
    mutating func encode(_ v: Int) throws { put(JSONNode.number(v)) }
    mutating func encode(_ v: Int8) throws { put(JSONNode.number(v)) }
    mutating func encode(_ v: Int16) throws { put(JSONNode.number(v)) }
    mutating func encode(_ v: Int32) throws { put(JSONNode.number(v)) }
    mutating func encode(_ v: Int64) throws { put(JSONNode.number(v)) }
    mutating func encode(_ v: UInt) throws { put(JSONNode.number(v)) }
    mutating func encode(_ v: UInt8) throws { put(JSONNode.number(v)) }
    mutating func encode(_ v: UInt16) throws { put(JSONNode.number(v)) }
    mutating func encode(_ v: UInt32) throws { put(JSONNode.number(v)) }
    mutating func encode(_ v: UInt64) throws { put(JSONNode.number(v)) }
}

struct SingleNodeContainer: SingleValueEncodingContainer, PrimitivePutting {
    let node: JSONNode
    var codingPath: [CodingKey]

    func put(_ v: JSONValue) { node.value = v }

    mutating func encode<T: Encodable>(_ v: T) throws { try JSONNode.encode(v, into: node, path: codingPath) }
}

// MARK: - Decoding

/// A decoder over one value of a parsed document.
struct JSONValueDecoding: Decoder {
    let value: JSONValue
    var codingPath: [CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    static func mismatch(_ type: Any.Type, _ value: JSONValue, _ path: [CodingKey]) -> DecodingError {
        .typeMismatch(type, .init(codingPath: path, debugDescription: "expected \(type), found \(describe(value))"))
    }

    static func describe(_ v: JSONValue) -> String {
        switch v {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }

    static func unbox<T: Decodable>(_ v: JSONValue, as type: T.Type, path: [CodingKey]) throws -> T {
        if type == JSONValue.self, let j = v as? T { return j }
        if type == Date.self {
            guard case .string(let s) = v, let t = Timestamp.parse(s) else {
                throw DecodingError.dataCorrupted(
                    .init(codingPath: path, debugDescription: "expected an RFC 3339 timestamp"))
            }
            if let d = Date(timeIntervalSince1970: t) as? T { return d }
        }
        return try T(from: JSONValueDecoding(value: v, codingPath: path))
    }

    static func bool(_ v: JSONValue, _ path: [CodingKey]) throws -> Bool {
        guard case .bool(let b) = v else { throw mismatch(Bool.self, v, path) }
        return b
    }

    static func string(_ v: JSONValue, _ path: [CodingKey]) throws -> String {
        guard case .string(let s) = v else { throw mismatch(String.self, v, path) }
        return s
    }

    static func double(_ v: JSONValue, _ path: [CodingKey]) throws -> Double {
        guard case .number(let n) = v else { throw mismatch(Double.self, v, path) }
        return n
    }

    static func integer<N: FixedWidthInteger>(_ v: JSONValue, _ path: [CodingKey]) throws -> N {
        guard case .number(let n) = v, n == n.rounded(), let i = N(exactly: n) else {
            throw mismatch(N.self, v, path)
        }
        return i
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let members) = value else {
            throw Self.mismatch([String: JSONValue].self, value, codingPath)
        }
        return KeyedDecodingContainer(KeyedValueContainer<Key>(members: members, codingPath: codingPath))
    }

    func unkeyedContainer() throws -> UnkeyedDecodingContainer {
        guard case .array(let items) = value else { throw Self.mismatch([JSONValue].self, value, codingPath) }
        return UnkeyedValueContainer(items: items, codingPath: codingPath)
    }

    func singleValueContainer() throws -> SingleValueDecodingContainer {
        SingleValueContainer(value: value, codingPath: codingPath)
    }
}

struct KeyedValueContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let members: [(String, JSONValue)]
    var codingPath: [CodingKey]

    var allKeys: [Key] { members.compactMap { Key(stringValue: $0.0) } }

    func contains(_ key: Key) -> Bool { members.contains { $0.0 == key.stringValue } }

    private func value(_ key: Key) throws -> JSONValue {
        guard let v = members.first(where: { $0.0 == key.stringValue })?.1 else {
            throw DecodingError.keyNotFound(
                key, .init(codingPath: codingPath, debugDescription: "missing field '\(key.stringValue)'"))
        }
        return v
    }

    private func path(_ key: Key) -> [CodingKey] { codingPath + [key] }

    func decodeNil(forKey key: Key) throws -> Bool { try value(key) == .null }
    func decode(_ t: Bool.Type, forKey key: Key) throws -> Bool {
        try JSONValueDecoding.bool(value(key), path(key))
    }
    func decode(_ t: String.Type, forKey key: Key) throws -> String {
        try JSONValueDecoding.string(value(key), path(key))
    }
    func decode(_ t: Double.Type, forKey key: Key) throws -> Double {
        try JSONValueDecoding.double(value(key), path(key))
    }
    func decode(_ t: Float.Type, forKey key: Key) throws -> Float {
        Float(try JSONValueDecoding.double(value(key), path(key)))
    }
    func decode(_ t: Int.Type, forKey key: Key) throws -> Int { try JSONValueDecoding.integer(value(key), path(key)) }
    func decode(_ t: Int8.Type, forKey key: Key) throws -> Int8 { try JSONValueDecoding.integer(value(key), path(key)) }
    func decode(_ t: Int16.Type, forKey key: Key) throws -> Int16 {
        try JSONValueDecoding.integer(value(key), path(key))
    }
    func decode(_ t: Int32.Type, forKey key: Key) throws -> Int32 {
        try JSONValueDecoding.integer(value(key), path(key))
    }
    func decode(_ t: Int64.Type, forKey key: Key) throws -> Int64 {
        try JSONValueDecoding.integer(value(key), path(key))
    }
    func decode(_ t: UInt.Type, forKey key: Key) throws -> UInt { try JSONValueDecoding.integer(value(key), path(key)) }
    func decode(_ t: UInt8.Type, forKey key: Key) throws -> UInt8 {
        try JSONValueDecoding.integer(value(key), path(key))
    }
    func decode(_ t: UInt16.Type, forKey key: Key) throws -> UInt16 {
        try JSONValueDecoding.integer(value(key), path(key))
    }
    func decode(_ t: UInt32.Type, forKey key: Key) throws -> UInt32 {
        try JSONValueDecoding.integer(value(key), path(key))
    }
    func decode(_ t: UInt64.Type, forKey key: Key) throws -> UInt64 {
        try JSONValueDecoding.integer(value(key), path(key))
    }
    func decode<T: Decodable>(_ t: T.Type, forKey key: Key) throws -> T {
        try JSONValueDecoding.unbox(value(key), as: t, path: path(key))
    }

    func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type, forKey key: Key
    ) throws -> KeyedDecodingContainer<NestedKey> {
        try JSONValueDecoding(value: value(key), codingPath: path(key)).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> UnkeyedDecodingContainer {
        try JSONValueDecoding(value: value(key), codingPath: path(key)).unkeyedContainer()
    }

    func superDecoder() throws -> Decoder {
        JSONValueDecoding(value: members.first { $0.0 == "super" }?.1 ?? .null, codingPath: codingPath)
    }

    func superDecoder(forKey key: Key) throws -> Decoder {
        JSONValueDecoding(value: (try? value(key)) ?? .null, codingPath: path(key))
    }
}

struct UnkeyedValueContainer: UnkeyedDecodingContainer {
    let items: [JSONValue]
    var codingPath: [CodingKey]
    var currentIndex = 0
    var count: Int? { items.count }
    var isAtEnd: Bool { currentIndex >= items.count }

    init(items: [JSONValue], codingPath: [CodingKey]) {
        self.items = items
        self.codingPath = codingPath
    }

    private var path: [CodingKey] { codingPath + [AnyCodingKey(intValue: currentIndex)] }

    private mutating func next() throws -> JSONValue {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(
                JSONValue.self, .init(codingPath: path, debugDescription: "no more elements in the array"))
        }
        defer { currentIndex += 1 }
        return items[currentIndex]
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd, items[currentIndex] == .null else { return false }
        currentIndex += 1
        return true
    }

    mutating func decode(_ t: Bool.Type) throws -> Bool {
        let p = path
        return try JSONValueDecoding.bool(next(), p)
    }
    mutating func decode(_ t: String.Type) throws -> String {
        let p = path
        return try JSONValueDecoding.string(next(), p)
    }
    mutating func decode(_ t: Double.Type) throws -> Double {
        let p = path
        return try JSONValueDecoding.double(next(), p)
    }
    mutating func decode(_ t: Float.Type) throws -> Float {
        let p = path
        return Float(try JSONValueDecoding.double(next(), p))
    }
    mutating func decode(_ t: Int.Type) throws -> Int { try integer() }
    mutating func decode(_ t: Int8.Type) throws -> Int8 { try integer() }
    mutating func decode(_ t: Int16.Type) throws -> Int16 { try integer() }
    mutating func decode(_ t: Int32.Type) throws -> Int32 { try integer() }
    mutating func decode(_ t: Int64.Type) throws -> Int64 { try integer() }
    mutating func decode(_ t: UInt.Type) throws -> UInt { try integer() }
    mutating func decode(_ t: UInt8.Type) throws -> UInt8 { try integer() }
    mutating func decode(_ t: UInt16.Type) throws -> UInt16 { try integer() }
    mutating func decode(_ t: UInt32.Type) throws -> UInt32 { try integer() }
    mutating func decode(_ t: UInt64.Type) throws -> UInt64 { try integer() }

    private mutating func integer<N: FixedWidthInteger>() throws -> N {
        let p = path
        return try JSONValueDecoding.integer(next(), p)
    }

    mutating func decode<T: Decodable>(_ t: T.Type) throws -> T {
        let p = path
        return try JSONValueDecoding.unbox(next(), as: t, path: p)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws
        -> KeyedDecodingContainer<NestedKey>
    {
        let p = path
        return try JSONValueDecoding(value: next(), codingPath: p).container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> UnkeyedDecodingContainer {
        let p = path
        return try JSONValueDecoding(value: next(), codingPath: p).unkeyedContainer()
    }

    mutating func superDecoder() throws -> Decoder {
        let p = path
        return JSONValueDecoding(value: try next(), codingPath: p)
    }
}

struct SingleValueContainer: SingleValueDecodingContainer {
    let value: JSONValue
    var codingPath: [CodingKey]

    func decodeNil() -> Bool { value == .null }
    func decode(_ t: Bool.Type) throws -> Bool { try JSONValueDecoding.bool(value, codingPath) }
    func decode(_ t: String.Type) throws -> String { try JSONValueDecoding.string(value, codingPath) }
    func decode(_ t: Double.Type) throws -> Double { try JSONValueDecoding.double(value, codingPath) }
    func decode(_ t: Float.Type) throws -> Float { Float(try JSONValueDecoding.double(value, codingPath)) }
    func decode(_ t: Int.Type) throws -> Int { try JSONValueDecoding.integer(value, codingPath) }
    func decode(_ t: Int8.Type) throws -> Int8 { try JSONValueDecoding.integer(value, codingPath) }
    func decode(_ t: Int16.Type) throws -> Int16 { try JSONValueDecoding.integer(value, codingPath) }
    func decode(_ t: Int32.Type) throws -> Int32 { try JSONValueDecoding.integer(value, codingPath) }
    func decode(_ t: Int64.Type) throws -> Int64 { try JSONValueDecoding.integer(value, codingPath) }
    func decode(_ t: UInt.Type) throws -> UInt { try JSONValueDecoding.integer(value, codingPath) }
    func decode(_ t: UInt8.Type) throws -> UInt8 { try JSONValueDecoding.integer(value, codingPath) }
    func decode(_ t: UInt16.Type) throws -> UInt16 { try JSONValueDecoding.integer(value, codingPath) }
    func decode(_ t: UInt32.Type) throws -> UInt32 { try JSONValueDecoding.integer(value, codingPath) }
    func decode(_ t: UInt64.Type) throws -> UInt64 { try JSONValueDecoding.integer(value, codingPath) }
    func decode<T: Decodable>(_ t: T.Type) throws -> T {
        try JSONValueDecoding.unbox(value, as: t, path: codingPath)
    }
}
