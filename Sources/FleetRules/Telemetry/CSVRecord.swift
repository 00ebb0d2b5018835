/// Splits one CSV line into fields (RFC 4180 quoting: "a,b" and "" for a quote).
/// Returns nil for an unterminated quote. Multi-line quoted fields are not supported.
enum CSVRecord {
    static func fields(_ line: UnsafeBufferPointer<UInt8>) -> [String]? {
        var out: [String] = []
        var field: [UInt8] = []
        var i = 0
        let n = line.count
        var quoted = false
        var atStart = true
        while i < n {
            let c = line[i]
            if quoted {
                if c == 0x22 {
                    if i + 1 < n, line[i + 1] == 0x22 {
                        field.append(0x22)
                        i += 2
                        continue
                    }
                    quoted = false
                } else {
                    field.append(c)
                }
            } else if c == 0x22, atStart {
                quoted = true
                atStart = false
            } else if c == 0x2C {
                out.append(Self.trimmed(field))
                field.removeAll(keepingCapacity: true)
                atStart = true
                i += 1
                continue
            } else {
                field.append(c)
                atStart = false
            }
            i += 1
        }
        if quoted { return nil }
        out.append(Self.trimmed(field))
        return out
    }

    /// The field's text without surrounding spaces and tabs, trimmed as bytes.
    static func trimmed(_ field: [UInt8]) -> String {
        var lo = 0
        var hi = field.count
        while lo < hi, field[lo] == 0x20 || field[lo] == 0x09 { lo += 1 }
        while hi > lo, field[hi - 1] == 0x20 || field[hi - 1] == 0x09 { hi -= 1 }
        return String(decoding: field[lo..<hi], as: UTF8.self)
    }
}
