/// Text for HTML and XML documents (the HTML report, JUnit XML): the five markup characters
/// become references that both languages read, in text and in quoted attribute values, and the
/// control characters XML 1.0 forbids (all below U+0020 but tab, line feed and carriage return)
/// are dropped. Works on Unicode scalars, so a combining mark after `"` or `&` does not hide it.
enum Markup {
    static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\t", "\n", "\r": out.unicodeScalars.append(c)
            default:
                if c.value < 0x20 { continue }
                out.unicodeScalars.append(c)
            }
        }
        return out
    }
}
