import Foundation

/// A firmware version: SemVer 2.0 plus the loose forms fleets report (`v2.4`, `02.04.001`, `1.2.3.4`).
///
/// Numeric parts are compared as numbers, missing parts count as 0, a pre-release sorts below its
/// release, and build metadata never affects precedence (SemVer 2.0 §10–11).
public struct Version: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// A dot-separated pre-release identifier: numeric ones sort below alphanumeric ones.
    public enum Identifier: Sendable, Hashable, Comparable, CustomStringConvertible {
        case numeric(Int)
        case text(String)

        public static func < (a: Identifier, b: Identifier) -> Bool {
            switch (a, b) {
            case (.numeric(let x), .numeric(let y)): x < y
            case (.numeric, .text): true
            case (.text, .numeric): false
            case (.text(let x), .text(let y)): x.utf8.lexicographicallyPrecedes(y.utf8)
            }
        }

        public var description: String {
            switch self {
            case .numeric(let n): String(n)
            case .text(let s): s
            }
        }
    }

    /// At least three numeric parts (major, minor, patch); a fourth when the vendor writes one.
    public var parts: [Int]
    public var prerelease: [Identifier]
    public var build: String?

    public init(_ parts: [Int], prerelease: [Identifier] = [], build: String? = nil) {
        var p = parts
        while p.count < 3 { p.append(0) }
        self.parts = p
        self.prerelease = prerelease
        self.build = build
    }

    public var major: Int { parts[0] }
    public var minor: Int { parts[1] }
    public var patch: Int { parts[2] }

    /// Parses loosely: optional `v`/`=` prefix, 1–4 numeric parts (leading zeros allowed),
    /// `-pre.release` and `+build`. Returns nil for anything else.
    public init?(parsing text: String) {
        // Fast path for the common `[v]1.2.3` form: digits and dots only, read as bytes.
        if let parts = Self.plainParts(text) {
            self.init(parts)
            return
        }
        var s = Substring(text.trimmingCharacters(in: .whitespaces))
        if s.first == "v" || s.first == "V" || s.first == "=" { s = s.dropFirst() }
        var build: String?
        if let plus = s.firstIndex(of: "+") {
            let b = s[s.index(after: plus)...]
            guard !b.isEmpty,
                b.split(separator: ".", omittingEmptySubsequences: false).allSatisfy({
                    !$0.isEmpty && $0.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
                })
            else { return nil }
            build = String(b)
            s = s[..<plus]
        }
        var pre: [Identifier] = []
        if let dash = s.firstIndex(of: "-") {
            let p = s[s.index(after: dash)...]
            guard !p.isEmpty else { return nil }
            for id in p.split(separator: ".", omittingEmptySubsequences: false) {
                guard !id.isEmpty, id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") })
                else { return nil }
                if id.allSatisfy({ $0.isNumber }) {
                    // Numeric identifiers compare as numbers (§11.4.1); one too large to hold is rejected
                    // rather than silently compared as text.
                    guard let n = Int(id) else { return nil }
                    pre.append(.numeric(n))
                } else {
                    pre.append(.text(String(id)))
                }
            }
            s = s[..<dash]
        }
        let fields = s.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...4).contains(fields.count) else { return nil }
        var parts: [Int] = []
        for f in fields {
            guard !f.isEmpty, f.count <= 9, f.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int(f) else {
                return nil
            }
            parts.append(n)
        }
        self.init(parts, prerelease: pre, build: build)
    }

    /// The numeric parts of a version made only of digits and dots (after an optional `v`/`V`/`=`),
    /// or nil for anything else (which the general parser then handles).
    static func plainParts(_ text: String) -> [Int]? {
        var parts: [Int] = []
        var current = 0
        var digits = 0
        var first = true
        for byte in text.utf8 {
            if first {
                first = false
                if byte == 0x76 || byte == 0x56 || byte == 0x3D { continue }
            }
            if byte >= 0x30, byte <= 0x39 {
                guard digits < 9 else { return nil }
                current = current * 10 + Int(byte - 0x30)
                digits += 1
            } else if byte == 0x2E {
                guard digits > 0, parts.count < 3 else { return nil }
                parts.append(current)
                current = 0
                digits = 0
            } else {
                return nil
            }
        }
        guard digits > 0 else { return nil }
        parts.append(current)
        return parts
    }

    public static func == (a: Version, b: Version) -> Bool {
        compareParts(a.parts, b.parts) == 0 && a.prerelease == b.prerelease
    }

    public func hash(into h: inout Hasher) {
        var p = parts
        while p.count > 3, p.last == 0 { p.removeLast() }
        h.combine(p)
        h.combine(prerelease)
    }

    public static func < (a: Version, b: Version) -> Bool {
        let c = compareParts(a.parts, b.parts)
        if c != 0 { return c < 0 }
        switch (a.prerelease.isEmpty, b.prerelease.isEmpty) {
        case (true, true), (true, false): return false
        case (false, true): return true
        case (false, false): return a.prerelease.lexicographicallyPrecedes(b.prerelease)
        }
    }

    static func compareParts(_ a: [Int], _ b: [Int]) -> Int {
        for i in 0..<max(a.count, b.count) {
            let x = i < a.count ? a[i] : 0
            let y = i < b.count ? b[i] : 0
            if x != y { return x < y ? -1 : 1 }
        }
        return 0
    }

    /// Same numeric parts, ignoring pre-release: the npm rule for which pre-releases a range admits.
    func sameRelease(as other: Version) -> Bool { Version.compareParts(parts, other.parts) == 0 }

    public var description: String {
        var s = parts.map(String.init).joined(separator: ".")
        if !prerelease.isEmpty { s += "-" + prerelease.map(\.description).joined(separator: ".") }
        if let build { s += "+" + build }
        return s
    }
}
