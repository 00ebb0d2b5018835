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
                out.append(String(decoding: field, as: UTF8.self))
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
        out.append(String(decoding: field, as: UTF8.self))
        return out.map { $0.trimmingSpaces }
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " || s.first == "\t" { s = s.dropFirst() }
        while s.last == " " || s.last == "\t" { s = s.dropLast() }
        return String(s)
    }
}
