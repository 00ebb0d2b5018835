/// How an SMS text is encoded and split into concatenated segments.
///
/// GSM-7 (3GPP TS 23.038) packs 160 septets in one message, 153 per segment of a concatenated
/// one (the UDH takes 7); characters of the extension table (`{ } [ ] ~ \ | ^ €` and form feed)
/// take two septets and are never split across segments. A text with any other character is
/// sent as UCS-2: 70 UTF-16 units alone, 67 per segment, and a surrogate pair (an emoji) is
/// never split.
public struct SMSEncoding: Sendable, Equatable {
    public enum Alphabet: String, Sendable { case gsm7 = "gsm7", ucs2 = "ucs2" }

    public var alphabet: Alphabet
    /// The segments' texts, in order; joined they are the original text.
    public var segments: [String]
    /// Septets (GSM-7) or UTF-16 units (UCS-2) of the whole text.
    public var units: Int

    static let basic: Set<Unicode.Scalar> = {
        let s =
            "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
            + "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
        return Set(s.unicodeScalars)
    }()
    static let extended: Set<Unicode.Scalar> = Set("^{}\\[~]|€\u{0C}".unicodeScalars)

    public static func septets(_ c: Unicode.Scalar) -> Int? {
        if basic.contains(c) { return 1 }
        if extended.contains(c) { return 2 }
        return nil
    }

    public static func encode(_ text: String) -> SMSEncoding {
        let scalars = text.unicodeScalars
        if scalars.allSatisfy({ septets($0) != nil }) {
            let total = scalars.reduce(0) { $0 + (septets($1) ?? 0) }
            let segments = total <= 160 ? [text] : split(text, limit: 153) { septets($0) ?? 0 }
            return SMSEncoding(alphabet: .gsm7, segments: segments, units: total)
        }
        let total = scalars.reduce(0) { $0 + ($1.value > 0xFFFF ? 2 : 1) }
        let segments = total <= 70 ? [text] : split(text, limit: 67) { $0.value > 0xFFFF ? 2 : 1 }
        return SMSEncoding(alphabet: .ucs2, segments: segments, units: total)
    }

    /// Greedy split on scalar boundaries: an escape pair or a surrogate pair stays whole.
    static func split(_ text: String, limit: Int, cost: (Unicode.Scalar) -> Int) -> [String] {
        var out: [String] = []
        var current = String.UnicodeScalarView()
        var used = 0
        for c in text.unicodeScalars {
            let k = cost(c)
            if used + k > limit, !current.isEmpty {
                out.append(String(current))
                current = String.UnicodeScalarView()
                used = 0
            }
            current.append(c)
            used += k
        }
        if !current.isEmpty { out.append(String(current)) }
        return out
    }
}
