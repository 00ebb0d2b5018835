import Foundation

/// An npm-style version range: `||`-separated sets of comparators, each set an intersection.
///
/// Supports comparators (`<`, `<=`, `>`, `>=`, `=`), `x`/`X`/`*` wildcards and partial versions,
/// `~` and `^`, hyphen ranges (`1.2.3 - 2.3.4`) and npm's pre-release rule: a pre-release version
/// matches only if some comparator in the same set names the same release with a pre-release.
public struct VersionRange: Sendable, Hashable, CustomStringConvertible {
    public struct Comparator: Sendable, Hashable, CustomStringConvertible {
        public enum Operator: String, Sendable, Hashable {
            case less = "<", lessEqual = "<=", greater = ">", greaterEqual = ">=", equal = ""
        }
        public var op: Operator
        public var version: Version

        func test(_ v: Version) -> Bool {
            switch op {
            case .less: v < version
            case .lessEqual: v <= version
            case .greater: v > version
            case .greaterEqual: v >= version
            case .equal: v == version
            }
        }

        public var description: String { op.rawValue + version.description }
    }

    /// Alternatives; a version satisfies the range when it satisfies every comparator of one set.
    public var sets: [[Comparator]]
    public let source: String

    public var description: String { source }

    /// Parses a range; the error text says what is wrong with which part.
    public static func parse(_ text: String) -> Result<VersionRange, RangeError> {
        var sets: [[Comparator]] = []
        let alternatives = text.components(separatedBy: "||")
        for alternative in alternatives {
            // npm reads an empty alternative as "any version", which turns `a ||` into a range that matches everything.
            if alternatives.count > 1, alternative.trimmingCharacters(in: .whitespaces).isEmpty {
                return .failure(RangeError(message: "'||' must have a range on both sides (use * for any version)"))
            }
            switch parseSet(alternative.trimmingCharacters(in: .whitespaces)) {
            case .success(let set): sets.append(set)
            case .failure(let e): return .failure(e)
            }
        }
        return .success(VersionRange(sets: sets, source: text))
    }

    /// Why a range could not be parsed.
    public struct RangeError: Error, Sendable, Hashable { public var message: String }

    public func isSatisfied(by v: Version) -> Bool {
        sets.contains { set in
            guard set.allSatisfy({ $0.test(v) }) else { return false }
            if v.prerelease.isEmpty { return true }
            return set.contains { !$0.version.prerelease.isEmpty && $0.version.sameRelease(as: v) }
        }
    }

    // MARK: parsing

    /// A partially written version: nil parts are wildcards.
    private struct Partial {
        var parts: [Int?]
        var prerelease: [Version.Identifier]
        var wildcardAt: Int? { parts.firstIndex(where: { $0 == nil }) }
        func filled() -> Version { Version(parts.map { $0 ?? 0 }, prerelease: prerelease) }
    }

    private static func parsePartial(_ raw: Substring) -> Result<Partial, RangeError> {
        var s = raw
        if s.first == "v" || s.first == "V" || s.first == "=" { s = s.dropFirst() }
        // A bare prefix (`v`, `>=v`) names no version; npm rejects it too.
        if s.isEmpty { return .failure(RangeError(message: "'\(raw)' is not a version")) }
        if s == "*" || s == "x" || s == "X" { return .success(Partial(parts: [nil, nil, nil], prerelease: [])) }
        var core = s
        var pre: [Version.Identifier] = []
        // Pre-release and build are checked as in a version; the build is then ignored, as in npm.
        if let suffix = core.firstIndex(where: { $0 == "-" || $0 == "+" }) {
            guard let v = Version(parsing: "0.0.0" + core[suffix...]) else {
                return .failure(RangeError(message: "malformed pre-release or build in '\(raw)'"))
            }
            pre = v.prerelease
            core = core[..<suffix]
        }
        let fields = core.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...4).contains(fields.count) else {
            return .failure(RangeError(message: "'\(raw)' is not a version"))
        }
        var parts: [Int?] = []
        var seenWildcard = false
        for f in fields {
            if f == "x" || f == "X" || f == "*" {
                seenWildcard = true
                parts.append(nil)
            } else if !seenWildcard, !f.isEmpty, f.count <= 9, f.allSatisfy({ $0.isASCII && $0.isNumber }),
                let n = Int(f)
            {
                parts.append(n)
            } else {
                return .failure(RangeError(message: "'\(raw)' is not a version"))
            }
        }
        while parts.count < 3 { parts.append(nil) }
        if pre.count > 0, parts.contains(where: { $0 == nil }) {
            return .failure(RangeError(message: "a pre-release needs a full version in '\(raw)'"))
        }
        return .success(Partial(parts: parts, prerelease: pre))
    }

    /// The first version after every version matching `p` up to its wildcard, as `<X-0`.
    private static func upperBound(_ p: Partial, bumpAt index: Int) -> Comparator {
        var parts = p.parts.map { $0 ?? 0 }
        parts[index] += 1
        for i in (index + 1)..<parts.count { parts[i] = 0 }
        return Comparator(op: .less, version: Version(parts, prerelease: [.numeric(0)]))
    }

    private static func parseSet(_ text: String) -> Result<[Comparator], RangeError> {
        var tokens = text.split(whereSeparator: { $0 == " " || $0 == "\t" })
        if tokens.isEmpty { return .success([Comparator(op: .greaterEqual, version: Version([0, 0, 0]))]) }
        // Hyphen range: A - B.
        if tokens.count == 3, tokens[1] == "-" {
            guard case .success(let a) = parsePartial(tokens[0]), case .success(let b) = parsePartial(tokens[2]) else {
                return .failure(RangeError(message: "malformed hyphen range '\(text)'"))
            }
            var out = [Comparator(op: .greaterEqual, version: a.filled())]
            if let w = b.wildcardAt {
                if w > 0 { out.append(upperBound(b, bumpAt: w - 1)) }
            } else {
                out.append(Comparator(op: .lessEqual, version: b.filled()))
            }
            return .success(out)
        }
        // Glue an operator written apart from its version: `>= 1.2.3`.
        var joined: [Substring] = []
        var i = 0
        while i < tokens.count {
            let t = tokens[i]
            if ["<", "<=", ">", ">=", "=", "~", "^", "~>"].contains(t), i + 1 < tokens.count {
                joined.append(Substring(String(t) + tokens[i + 1]))
                i += 2
            } else {
                joined.append(t)
                i += 1
            }
        }
        tokens = joined
        var out: [Comparator] = []
        for token in tokens {
            switch parseComparator(token) {
            case .success(let cs): out.append(contentsOf: cs)
            case .failure(let e): return .failure(e)
            }
        }
        return .success(out)
    }

    private static func parseComparator(_ token: Substring) -> Result<[Comparator], RangeError> {
        var t = token
        var op = ""
        for (wrong, right) in [("=>", ">="), ("=<", "<=")] where t.hasPrefix(wrong) {
            return .failure(RangeError(message: "unknown operator '\(wrong)' in '\(token)'; write '\(right)'"))
        }
        for candidate in ["~>", ">=", "<=", ">", "<", "=", "~", "^"] where t.hasPrefix(candidate) {
            op = candidate
            t = t.dropFirst(candidate.count)
            break
        }
        if t.isEmpty, !op.isEmpty {
            return .failure(RangeError(message: "operator '\(op)' is not followed by a version"))
        }
        let p: Partial
        switch parsePartial(t) {
        case .success(let x): p = x
        case .failure(let e): return .failure(e)
        }
        let lower = p.filled()
        let w = p.wildcardAt
        switch op {
        case "~", "~>":
            // ~1.2.3 := >=1.2.3 <1.3.0-0 ; ~1 := >=1.0.0 <2.0.0-0
            guard let major = p.parts[0] else {
                return .success([Comparator(op: .greaterEqual, version: Version([0, 0, 0]))])
            }
            _ = major
            let bump = (w == 1) ? 0 : 1
            return .success([Comparator(op: .greaterEqual, version: lower), upperBound(p, bumpAt: bump)])
        case "^":
            guard p.parts[0] != nil else {
                return .success([Comparator(op: .greaterEqual, version: Version([0, 0, 0]))])
            }
            // Bump the first non-zero part among those written; for 0.0.x wildcards, the last written.
            let written = w ?? p.parts.count
            var bump = 0
            while bump < written - 1, p.parts[bump] == 0 { bump += 1 }
            if w != nil, bump == written - 1, p.parts[bump] == 0 { bump = max(0, written - 1) }
            return .success([Comparator(op: .greaterEqual, version: lower), upperBound(p, bumpAt: min(bump, 2))])
        case "", "=":
            guard let w else { return .success([Comparator(op: .equal, version: lower)]) }
            if w == 0 { return .success([Comparator(op: .greaterEqual, version: Version([0, 0, 0]))]) }
            return .success([Comparator(op: .greaterEqual, version: lower), upperBound(p, bumpAt: w - 1)])
        case ">":
            guard let w else { return .success([Comparator(op: .greater, version: lower)]) }
            if w == 0 {
                return .success([Comparator(op: .less, version: Version([0, 0, 0], prerelease: [.numeric(0)]))])
            }
            var b = upperBound(p, bumpAt: w - 1)
            b.op = .greaterEqual
            b.version.prerelease = []
            return .success([b])
        case ">=":
            return .success([Comparator(op: .greaterEqual, version: lower)])
        case "<":
            if w == 0 {
                return .success([Comparator(op: .less, version: Version([0, 0, 0], prerelease: [.numeric(0)]))])
            }
            return .success([
                Comparator(op: .less, version: w == nil ? lower : Version(lower.parts, prerelease: [.numeric(0)]))
            ])
        case "<=":
            guard let w else { return .success([Comparator(op: .lessEqual, version: lower)]) }
            if w == 0 { return .success([Comparator(op: .greaterEqual, version: Version([0, 0, 0]))]) }
            return .success([upperBound(p, bumpAt: w - 1)])
        default:
            return .failure(RangeError(message: "unknown operator '\(op)'"))
        }
    }

    public static func == (a: VersionRange, b: VersionRange) -> Bool { a.sets == b.sets }
    public func hash(into h: inout Hasher) { h.combine(sets) }
}
