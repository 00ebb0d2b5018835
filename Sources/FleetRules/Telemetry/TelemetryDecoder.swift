import Foundation

/// Why a telemetry line was not accepted; the report counts each reason.
public enum RejectReason: String, Sendable, Hashable, CaseIterable, Comparable {
    /// Not a JSON object or CSV row.
    case malformed
    /// No timestamp field.
    case missingTimestamp = "missing_ts"
    /// A timestamp that is not RFC 3339 or epoch seconds.
    case badTimestamp = "bad_ts"
    /// No device field.
    case missingDevice = "missing_device"
    /// A device not in the inventory.
    case unknownDevice = "unknown_device"
    /// A metric value that is not a number.
    case nonNumeric = "non_numeric"
    /// A metric value outside its declared range.
    case outOfRange = "out_of_range"
    /// Too far ahead of the wall clock or of the fleet's time.
    case future
    /// Before the year 2000.
    case tooOld = "too_old"
    /// Behind what was already evaluated (later than the lateness allows).
    case late

    public static func < (a: RejectReason, b: RejectReason) -> Bool { a.rawValue < b.rawValue }
}

/// One decoded line, valid only inside the decoder's callback (it points into the line's bytes).
public struct DecodedLine {
    public var timestamp: Double = 0
    public var device: UnsafeBufferPointer<UInt8> = UnsafeBufferPointer(start: nil, count: 0)
    public var gateway: UnsafeBufferPointer<UInt8>?
    /// Numeric fields: interned field id and value.
    public var numbers: [(field: Int, value: Double)] = []
    /// String fields other than ts/device/gateway: interned field id and value.
    public var strings: [(field: Int, value: String)] = []
}

/// A purpose-built decoder for flat telemetry records (JSON Lines or CSV with a header) over raw
/// bytes: no Foundation JSON, no DateFormatter, no String per key.
public struct TelemetryDecoder {
    public var fields = ByteInterner()
    private var line = DecodedLine()
    private var scratch: [UInt8] = []
    private var lastTimestamp: (bytes: [UInt8], value: Double) = ([], 0)
    private var csvHeader: [Int]?
    private var csvRoles: [CSVRole] = []

    private enum CSVRole { case ts, device, gateway, field(Int) }

    public init() {}

    public enum Format: Sendable {
        case jsonLines, csv

        /// `.csv` and `.csv.gz` are CSV; everything else (`.jsonl`, `.json`, `-`) is JSON Lines.
        public static func guess(_ path: String) -> Format {
            let p = path.hasSuffix(".gz") ? String(path.dropLast(3)) : path
            return p.hasSuffix(".csv") ? .csv : .jsonLines
        }
    }

    /// Decodes one line; returns nil (and calls nothing) for blank lines, or a reject reason
    /// with a message, or calls `accept` with the decoded record.
    public mutating func decode(
        _ bytes: UnsafeBufferPointer<UInt8>, format: Format, accept: (inout DecodedLine, ByteInterner) -> Void
    ) -> (RejectReason, String)? {
        switch format {
        case .jsonLines: return decodeJSON(bytes, accept: accept)
        case .csv: return decodeCSV(bytes, accept: accept)
        }
    }

    // MARK: JSON

    private mutating func decodeJSON(_ b: UnsafeBufferPointer<UInt8>, accept: (inout DecodedLine, ByteInterner) -> Void)
        -> (RejectReason, String)?
    {
        var i = 0
        let n = b.count
        func skip() { while i < n, b[i] == 0x20 || b[i] == 0x09 || b[i] == 0x0D { i += 1 } }
        skip()
        if i == n { return nil }
        guard b[i] == 0x7B else { return (.malformed, "expected '{' at column \(i + 1)") }
        i += 1
        line.numbers.removeAll(keepingCapacity: true)
        line.strings.removeAll(keepingCapacity: true)
        line.gateway = nil
        var haveTs = false
        var haveDevice = false
        var device = Scanned.slice(0..<0)
        var gateway: Scanned?
        var tsError: String?
        skip()
        if i < n, b[i] == 0x7D {
            i += 1
        } else {
            while true {
                skip()
                guard i < n, b[i] == 0x22 else { return (.malformed, "expected a quoted key at column \(i + 1)") }
                guard let scannedKey = Self.scanString(b, &i) else {
                    return (.malformed, "unterminated string or bad escape at column \(i + 1)")
                }
                skip()
                guard i < n, b[i] == 0x3A else { return (.malformed, "expected ':' at column \(i + 1)") }
                i += 1
                skip()
                guard i < n else { return (.malformed, "missing value at column \(i + 1)") }
                let role = scannedKey.withBytes(b) { keyRole($0) }
                let c = b[i]
                if c == 0x22 {
                    let valueStart = i
                    guard let value = Self.scanString(b, &i) else {
                        return (.malformed, "unterminated string or bad escape at column \(valueStart + 1)")
                    }
                    switch role {
                    case .ts:
                        if let t = value.withBytes(b, { timestamp($0) }) {
                            line.timestamp = t
                            haveTs = true
                        } else {
                            tsError = "unparseable ts '\(value.withBytes(b) { String(decoding: $0, as: UTF8.self) })'"
                        }
                    case .device:
                        device = value
                        haveDevice = value.withBytes(b) { !$0.isEmpty }
                    case .gateway: gateway = value
                    case .field(let id):
                        line.strings.append((id, value.withBytes(b) { String(decoding: $0, as: UTF8.self) }))
                    }
                } else if c == 0x2D || (c >= 0x30 && c <= 0x39) {
                    let start = i
                    while i < n, Self.isNumberByte(b[i]) { i += 1 }
                    guard let v = Self.parseNumber(UnsafeBufferPointer(rebasing: b[start..<i])) else {
                        return (.malformed, "malformed number at column \(start + 1)")
                    }
                    switch role {
                    case .ts:
                        // Epoch seconds, or milliseconds when the value is too large for seconds.
                        line.timestamp = v > 1e11 ? v / 1000 : v
                        haveTs = true
                    case .device:
                        device = .slice(start..<i)
                        haveDevice = true
                    case .gateway:
                        gateway = .slice(start..<i)
                    case .field(let id): line.numbers.append((id, v))
                    }
                } else if Self.matches(b, i, "true") || Self.matches(b, i, "false") {
                    let isTrue = b[i] == 0x74
                    i += isTrue ? 4 : 5
                    if case .field(let id) = role { line.strings.append((id, isTrue ? "true" : "false")) }
                } else if Self.matches(b, i, "null") {
                    i += 4
                } else if c == 0x7B || c == 0x5B {
                    return (.malformed, "nested objects and arrays are not supported (column \(i + 1))")
                } else {
                    return (.malformed, "unexpected character at column \(i + 1)")
                }
                skip()
                guard i < n else { return (.malformed, "missing '}' at the end of the line") }
                if b[i] == 0x2C {
                    i += 1
                    continue
                }
                if b[i] == 0x7D {
                    i += 1
                    break
                }
                return (.malformed, "expected ',' or '}' at column \(i + 1)")
            }
        }
        skip()
        guard i == n else { return (.malformed, "unexpected text after the object at column \(i + 1)") }
        if let tsError { return (.badTimestamp, tsError) }
        guard haveTs else { return (.missingTimestamp, "no `ts` field") }
        guard haveDevice else { return (.missingDevice, "no `device` field") }
        device.withBytes(b) { d in
            line.device = d
            if let gateway {
                gateway.withBytes(b) { g in
                    line.gateway = g
                    accept(&line, fields)
                }
            } else {
                line.gateway = nil
                accept(&line, fields)
            }
        }
        return nil
    }

    private enum Role { case ts, device, gateway, field(Int) }

    private mutating func keyRole(_ key: UnsafeBufferPointer<UInt8>) -> Role {
        if key.count == 2, key[0] == 0x74, key[1] == 0x73 { return .ts }
        if key.count == 6, Self.matches(key, 0, "device") { return .device }
        if key.count == 7, Self.matches(key, 0, "gateway") { return .gateway }
        return .field(fields.intern(key))
    }

    static func matches(_ b: UnsafeBufferPointer<UInt8>, _ at: Int, _ word: StaticString) -> Bool {
        let count = word.utf8CodeUnitCount
        guard at + count <= b.count else { return false }
        let p = word.utf8Start
        for k in 0..<count where b[at + k] != p[k] { return false }
        return true
    }

    /// A scanned JSON string: a slice of the line, or unescaped bytes when it had escapes.
    private enum Scanned {
        case slice(Range<Int>)
        case owned([UInt8])

        func withBytes<R>(_ line: UnsafeBufferPointer<UInt8>, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
            switch self {
            case .slice(let r): body(UnsafeBufferPointer(rebasing: line[r]))
            case .owned(let bytes): bytes.withUnsafeBufferPointer(body)
            }
        }
    }

    /// Scans a JSON string starting at its opening quote.
    private static func scanString(_ b: UnsafeBufferPointer<UInt8>, _ i: inout Int) -> Scanned? {
        let n = b.count
        i += 1
        let start = i
        while i < n, b[i] != 0x22, b[i] != 0x5C { i += 1 }
        guard i < n else { return nil }
        if b[i] == 0x22 {
            i += 1
            return .slice(start..<(i - 1))
        }
        var out: [UInt8] = Array(b[start..<i])
        while i < n {
            let c = b[i]
            if c == 0x22 {
                i += 1
                return .owned(out)
            }
            if c == 0x5C {
                guard i + 1 < n else { return nil }
                let e = b[i + 1]
                i += 2
                switch e {
                case 0x22, 0x5C, 0x2F: out.append(e)
                case 0x6E: out.append(0x0A)
                case 0x74: out.append(0x09)
                case 0x72: out.append(0x0D)
                case 0x62: out.append(0x08)
                case 0x66: out.append(0x0C)
                case 0x75:
                    guard var code = hex4(b, i) else { return nil }
                    i += 4
                    if (0xD800..<0xDC00).contains(code), i + 6 <= n, b[i] == 0x5C, b[i + 1] == 0x75,
                        let low = hex4(b, i + 2), (0xDC00..<0xE000).contains(low)
                    {
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        i += 6
                    }
                    let scalar = Unicode.Scalar(code) ?? "\u{FFFD}"
                    out.append(contentsOf: Array(String(Character(scalar)).utf8))
                default: return nil
                }
                continue
            }
            out.append(c)
            i += 1
        }
        return nil
    }

    static func hex4(_ b: UnsafeBufferPointer<UInt8>, _ at: Int) -> UInt32? {
        guard at + 4 <= b.count else { return nil }
        var v: UInt32 = 0
        for k in 0..<4 {
            let c = b[at + k]
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            default: return nil
            }
            v = v << 4 | d
        }
        return v
    }

    static func isNumberByte(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || c == 0x2E || c == 0x2D || c == 0x2B || c == 0x65 || c == 0x45
    }

    private static let powersOf10: [Double] = (0...22).map { pow(10.0, Double($0)) }

    /// JSON number; a fast exact path for up to 15 significant digits, strtod otherwise.
    static func parseNumber(_ b: UnsafeBufferPointer<UInt8>) -> Double? {
        var i = 0
        let n = b.count
        guard n > 0 else { return nil }
        var negative = false
        if b[0] == 0x2D {
            negative = true
            i = 1
        }
        var mantissa: UInt64 = 0
        var digits = 0
        var fractionDigits = 0
        let intStart = i
        while i < n, b[i] >= 0x30, b[i] <= 0x39 {
            mantissa = mantissa &* 10 &+ UInt64(b[i] - 0x30)
            digits += 1
            i += 1
        }
        guard i > intStart else { return nil }
        if i - intStart > 1, b[intStart] == 0x30 { return nil }
        if i < n, b[i] == 0x2E {
            i += 1
            let fracStart = i
            while i < n, b[i] >= 0x30, b[i] <= 0x39 {
                mantissa = mantissa &* 10 &+ UInt64(b[i] - 0x30)
                digits += 1
                fractionDigits += 1
                i += 1
            }
            guard i > fracStart else { return nil }
        }
        if i == n, digits <= 15 {
            let v = Double(mantissa) / powersOf10[fractionDigits]
            return negative ? -v : v
        }
        // Exponents and long mantissas: let the C library round correctly.
        var text = [CChar](repeating: 0, count: n + 1)
        for k in 0..<n { text[k] = CChar(bitPattern: b[k]) }
        var end: UnsafeMutablePointer<CChar>?
        let v = text.withUnsafeMutableBufferPointer { p -> Double in
            let r = strtod(p.baseAddress!, &end)
            if let end, end - p.baseAddress! != n { return .nan }
            return r
        }
        return v.isFinite ? v : nil
    }

    /// RFC 3339 or epoch text; caches the last value since consecutive lines often share it.
    private mutating func timestamp(_ b: UnsafeBufferPointer<UInt8>) -> Double? {
        if b.count == lastTimestamp.bytes.count, !b.isEmpty,
            lastTimestamp.bytes.withUnsafeBufferPointer({ memcmp($0.baseAddress!, b.baseAddress!, b.count) == 0 })
        {
            return lastTimestamp.value
        }
        let text = String(decoding: b, as: UTF8.self)
        let value: Double?
        if let t = Timestamp.parse(text) {
            value = t
        } else if let v = Double(text), v.isFinite {
            value = v > 1e11 ? v / 1000 : v
        } else {
            value = nil
        }
        if let value { lastTimestamp = (Array(b), value) }
        return value
    }

    // MARK: CSV

    private mutating func decodeCSV(_ b: UnsafeBufferPointer<UInt8>, accept: (inout DecodedLine, ByteInterner) -> Void)
        -> (RejectReason, String)?
    {
        if b.isEmpty || b.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return nil }
        guard let cells = CSVRecord.fields(b) else { return (.malformed, "unterminated quote") }
        guard csvHeader != nil else {
            csvRoles = cells.map { name in
                switch name.lowercased() {
                case "ts": .ts
                case "device": .device
                case "gateway": .gateway
                default: .field(fields.intern(name))
                }
            }
            csvHeader = Array(0..<cells.count)
            return nil
        }
        guard cells.count == csvRoles.count else {
            return (.malformed, "expected \(csvRoles.count) fields, found \(cells.count)")
        }
        line.numbers.removeAll(keepingCapacity: true)
        line.strings.removeAll(keepingCapacity: true)
        line.gateway = nil
        var haveTs = false
        var device: [UInt8] = []
        var gateway: [UInt8]?
        for (k, cell) in cells.enumerated() where !cell.isEmpty {
            switch csvRoles[k] {
            case .ts:
                var bytes = Array(cell.utf8)
                guard let t = bytes.withUnsafeBufferPointer({ timestamp($0) }) else {
                    return (.badTimestamp, "unparseable ts '\(cell)'")
                }
                line.timestamp = t
                haveTs = true
                bytes.removeAll()
            case .device: device = Array(cell.utf8)
            case .gateway: gateway = Array(cell.utf8)
            case .field(let id):
                let v = Array(cell.utf8).withUnsafeBufferPointer { Self.parseNumber($0) }
                if let v { line.numbers.append((id, v)) } else { line.strings.append((id, cell)) }
            }
        }
        guard haveTs else { return (.missingTimestamp, "no `ts` value") }
        guard !device.isEmpty else { return (.missingDevice, "no `device` value") }
        device.withUnsafeBufferPointer { d in
            line.device = d
            if let gateway {
                gateway.withUnsafeBufferPointer { g in
                    line.gateway = g
                    accept(&line, fields)
                }
            } else {
                accept(&line, fields)
            }
        }
        return nil
    }
}
