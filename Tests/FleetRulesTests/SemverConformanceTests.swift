import Testing

@testable import FleetRules

/// Conformance of `Version` and `VersionRange` with the npm semver README ("Ranges", "Comparators",
/// "Prerelease Tags", "Advanced Range Syntax", "Range Grammar") and SemVer 2.0 §9–11.
///
/// Every expectation below is written from those documented rules, not from what the implementation
/// returns. The desugarings the README gives are quoted next to each group.
///
/// Where FleetRules deliberately differs from npm (strict mode), the cases say so:
/// - Loose versions are accepted everywhere, in versions and in ranges: a `v`/`V`/`=` prefix, one to
///   four numeric parts (`2.4`, `1.2.3.4`) and leading zeros (`02.04.001`, which npm only reads in
///   loose mode). Missing parts count as 0, so `2.4` is `2.4.0`, and a fourth part orders below the
///   next patch (`1.2.3 < 1.2.3.1 < 1.2.4`). As a range, a partial version is still an X-range
///   (`1.2` is `1.2.x`) exactly as in npm; only a full three- or four-part version is exact.
/// - An empty `||` alternative (`1.2.3 ||`, `|| 1.2.3`) is rejected. npm reads it as `*`, which
///   silently widens the range to every version.
/// - Leading zeros are read in numeric pre-release identifiers too (`1.0.0-rc.01` is `1.0.0-rc.1`);
///   strict SemVer §9 and npm reject them.
/// - Numeric parts are limited to 9 digits (npm: up to 2^53 - 1), and a numeric pre-release
///   identifier must fit in 64 bits (npm keeps larger ones); longer ones are rejected, not misordered.
@Suite struct SemverConformanceTests {
    // MARK: range satisfaction

    /// (range, version, satisfied?)
    static let satisfaction: [(String, String, Bool)] = [
        // --- Ranges / comparators: "the comparator >=1.2.7 would match the versions 1.2.7, 1.2.8,
        //     2.5.3, and 1.3.9, but not the versions 1.2.6 or 1.1.0".
        (">=1.2.7", "1.2.7", true),
        (">=1.2.7", "1.2.8", true),
        (">=1.2.7", "2.5.3", true),
        (">=1.2.7", "1.3.9", true),
        (">=1.2.7", "1.2.6", false),
        (">=1.2.7", "1.1.0", false),
        (">1.2.7", "1.2.7", false),
        (">1.2.7", "1.2.8", true),
        (">1.2.7", "1.2.6", false),
        ("<1.2.7", "1.2.6", true),
        ("<1.2.7", "1.2.7", false),
        ("<1.2.7", "0.9.99", true),
        ("<=1.2.7", "1.2.7", true),
        ("<=1.2.7", "1.2.8", false),
        ("<=1.2.7", "0.0.0", true),
        // "=  Equal. If no operator is specified, then equality is assumed."
        ("=1.2.7", "1.2.7", true),
        ("=1.2.7", "1.2.8", false),
        ("1.2.7", "1.2.7", true),
        ("1.2.7", "1.2.6", false),
        ("1.2.7", "1.2.70", false),
        // Build metadata does not take part in comparison (SemVer §10).
        ("1.2.7", "1.2.7+build.5", true),
        ("1.2.7+build.1", "1.2.7", true),
        (">=1.2.7+build-1.x", "1.2.7", true),
        (">1.2.7", "1.2.7+build.9", false),

        // --- Comparator sets are intersections: ">=1.2.7 <1.3.0 would match 1.2.7, 1.2.8, and 1.2.99,
        //     but not 1.2.6, 1.3.0, or 1.1.0".
        (">=1.2.7 <1.3.0", "1.2.7", true),
        (">=1.2.7 <1.3.0", "1.2.8", true),
        (">=1.2.7 <1.3.0", "1.2.99", true),
        (">=1.2.7 <1.3.0", "1.2.6", false),
        (">=1.2.7 <1.3.0", "1.3.0", false),
        (">=1.2.7 <1.3.0", "1.1.0", false),
        (">1.0.0 <1.0.0", "1.0.0", false),

        // --- `||` unions: "1.2.7 || >=1.2.9 <2.0.0 would match 1.2.7, 1.2.9, and 1.4.6, but not
        //     1.2.8 or 2.0.0".
        ("1.2.7 || >=1.2.9 <2.0.0", "1.2.7", true),
        ("1.2.7 || >=1.2.9 <2.0.0", "1.2.9", true),
        ("1.2.7 || >=1.2.9 <2.0.0", "1.4.6", true),
        ("1.2.7 || >=1.2.9 <2.0.0", "1.2.8", false),
        ("1.2.7 || >=1.2.9 <2.0.0", "2.0.0", false),
        // satisfies('1.2.3', '1.x || >=2.5.0 || 5.0.0 - 7.2.3') is true (README usage).
        ("1.x || >=2.5.0 || 5.0.0 - 7.2.3", "1.2.3", true),
        ("1.x || >=2.5.0 || 5.0.0 - 7.2.3", "2.4.9", false),
        ("1.x || >=2.5.0 || 5.0.0 - 7.2.3", "2.5.0", true),
        ("1.x || >=2.5.0 || 5.0.0 - 7.2.3", "7.2.3", true),
        ("<1.0.0 || >=3.0.0", "0.5.0", true),
        ("<1.0.0 || >=3.0.0", "2.0.0", false),
        ("<1.0.0 || >=3.0.0", "3.1.0", true),
        // logical-or ::= ( ' ' ) * '||' ( ' ' ) *
        ("1.2.3||2.0.0", "2.0.0", true),
        ("1.2.3||2.0.0", "1.2.4", false),
        ("1.2.3   ||   2.3.4", "2.3.4", true),
        ("1.2.3   ||   2.3.4", "2.3.5", false),
        // "Advanced ranges may be combined in the same way as primitive comparators using white space or ||."
        ("^1.2.3 <1.5.0", "1.4.9", true),
        ("^1.2.3 <1.5.0", "1.5.0", false),
        ("~1.2 || ^2.0.1", "1.2.5", true),
        ("~1.2 || ^2.0.1", "2.0.0", false),
        ("~1.2 || ^2.0.1", "2.5.0", true),
        ("1.2.3 - 2.3.4 || 3.x", "3.1.0", true),
        ("1.2.3 - 2.3.4 || 3.x", "2.5.0", false),

        // --- Whitespace between operator and version, and between comparators.
        (">= 1.2.3", "1.2.3", true),
        (">= 1.2.3", "1.2.2", false),
        (">=   1.2.3", "1.2.3", true),
        ("> 1.2.3", "1.2.3", false),
        ("> 1.2.3", "1.2.4", true),
        ("<= 2.0.0", "2.0.0", true),
        ("<\t2.0.0", "1.9.9", true),
        ("<\t2.0.0", "2.0.0", false),
        ("  >=1.2.3   <2.0.0  ", "1.5.0", true),
        ("  >=1.2.3   <2.0.0  ", "2.0.0", false),
        (">= 1.2.3 < 2.0.0", "1.9.9", true),
        (">= 1.2.3 < 2.0.0", "1.2.2", false),
        ("~ 1.2", "1.2.9", true),
        ("~ 1.2", "1.3.0", false),
        ("^ 1", "1.9.0", true),
        ("^ 1", "2.0.0", false),
        ("= 1.2.3", "1.2.3", true),
        ("1.2.3\t-\t2.3.4", "2.3.4", true),

        // --- "A leading = or v character is stripped off and ignored."
        ("v1.2.3", "1.2.3", true),
        ("v1.2.3", "1.2.4", false),
        ("=v1.2.3", "1.2.3", true),
        (">=v1.2.3", "1.2.4", true),
        (">= v1.2.3", "1.2.2", false),
        ("=1.2.3", "v1.2.3", true),
        ("1.2.3", "=1.2.3", true),
        ("^v1.2.3", "1.5.0", true),
        ("~v1.2.3", "1.3.0", false),
        ("v1.2.3 - v2.3.4", "2.0.0", true),
        ("v1.2.3 - v2.3.4", "2.3.5", false),

        // --- X-Ranges: `*` := >=0.0.0; "" (empty string) := * := >=0.0.0. Any non-prerelease version.
        ("", "0.0.0", true),
        ("", "1.2.3", true),
        ("", "1.2.3-beta", false),
        ("   ", "1.0.0", true),
        ("*", "0.0.0", true),
        ("*", "99.99.99", true),
        ("*", "1.0.0-rc.1", false),
        ("x", "3.2.1", true),
        ("X", "3.2.1", true),
        ("x", "3.2.1-alpha", false),
        (">=0.0.0", "0.0.0", true),
        // `1.x` := >=1.0.0 <2.0.0 (matching major version)
        ("1.x", "1.0.0", true),
        ("1.x", "1.9.9", true),
        ("1.x", "2.0.0", false),
        ("1.x", "0.9.9", false),
        ("1.x", "1.5.0-beta", false),
        ("1.x", "2.0.0-alpha", false),
        ("1.X", "1.4.0", true),
        ("1.*", "1.4.0", true),
        ("2.x.x", "2.5.5", true),
        ("2.x.x", "3.0.0", false),
        ("2.*.*", "1.9.9", false),
        // `1.2.x` := >=1.2.0 <1.3.0 (matching major and minor versions)
        ("1.2.x", "1.2.0", true),
        ("1.2.x", "1.2.99", true),
        ("1.2.x", "1.3.0", false),
        ("1.2.x", "1.1.9", false),
        ("1.2.*", "1.2.5", true),
        ("1.2.X", "1.3.0", false),
        // "A partial version range is treated as an X-Range": `1` := 1.x.x, `1.2` := 1.2.x
        ("1", "1.0.0", true),
        ("1", "1.99.0", true),
        ("1", "2.0.0", false),
        ("1", "0.9.9", false),
        ("1.2", "1.2.0", true),
        ("1.2", "1.2.9", true),
        ("1.2", "1.3.0", false),
        ("1.2", "1.1.99", false),
        ("=1.2", "1.2.5", true),
        ("=1.2", "1.3.0", false),
        // X-ranges behind an operator keep the meaning "every version that starts with these parts".
        (">1", "1.9.9", false),
        (">1", "2.0.0", true),
        (">1.2", "1.2.9", false),
        (">1.2", "1.3.0", true),
        (">1.2.x", "1.2.9", false),
        ("<1.2", "1.1.9", true),
        ("<1.2", "1.2.0", false),
        ("<1", "0.9.9", true),
        ("<1", "1.0.0", false),
        ("<=1.2", "1.2.9", true),
        ("<=1.2", "1.3.0", false),
        (">=1.2", "1.2.0", true),
        (">=1.2", "1.1.9", false),
        (">=1.x", "1.0.0", true),
        (">=1.x", "0.9.9", false),
        (">*", "1.0.0", false),
        ("<*", "0.0.0", false),
        (">=*", "1.0.0", true),
        ("<=*", "1.0.0", true),

        // --- Hyphen ranges: `1.2.3 - 2.3.4` := >=1.2.3 <=2.3.4 (an inclusive set).
        ("1.2.3 - 2.3.4", "1.2.3", true),
        ("1.2.3 - 2.3.4", "2.0.0", true),
        ("1.2.3 - 2.3.4", "2.3.4", true),
        ("1.2.3 - 2.3.4", "1.2.2", false),
        ("1.2.3 - 2.3.4", "2.3.5", false),
        ("1.2.3 - 2.3.4", "2.3.4-beta", false),
        ("1.2.3   -   2.3.4", "2.3.4", true),
        ("1.2.3   -   2.3.4", "2.3.5", false),
        // Partial first version: missing pieces are zeroes. `1.2 - 2.3.4` := >=1.2.0 <=2.3.4
        ("1.2 - 2.3.4", "1.2.0", true),
        ("1.2 - 2.3.4", "1.1.9", false),
        ("1.2 - 2.3.4", "2.3.4", true),
        ("1.2 - 2.3.4", "2.3.5", false),
        // Partial second version: `1.2.3 - 2.3` := >=1.2.3 <2.4.0, `1.2.3 - 2` := >=1.2.3 <3.0.0
        ("1.2.3 - 2.3", "1.2.3", true),
        ("1.2.3 - 2.3", "1.2.2", false),
        ("1.2.3 - 2.3", "2.3.9", true),
        ("1.2.3 - 2.3", "2.4.0", false),
        ("1.2.3 - 2.3", "2.4.0-alpha", false),
        ("1.2.3 - 2", "2.9.9", true),
        ("1.2.3 - 2", "3.0.0", false),
        ("1 - 2", "1.0.0", true),
        ("1 - 2", "2.99.0", true),
        ("1 - 2", "0.9.9", false),
        ("1 - 2", "3.0.0", false),
        ("1.0 - 2.0", "2.0.9", true),
        ("1.0 - 2.0", "2.1.0", false),
        ("1.2.x - 2.x", "1.2.0", true),
        ("1.2.x - 2.x", "1.1.9", false),
        ("1.2.x - 2.x", "2.9.9", true),
        ("1.2.x - 2.x", "3.0.0", false),
        ("1.2.3 - *", "99.0.0", true),
        ("1.2.3 - *", "1.2.2", false),
        ("* - 2.0.0", "0.0.1", true),
        ("* - 2.0.0", "2.0.1", false),
        // Pre-releases on a hyphen end follow the pre-release rule.
        ("1.2.3-beta - 2.0.0", "1.2.3-rc.1", true),
        ("1.2.3-beta - 2.0.0", "1.2.3-alpha", false),
        ("1.2.3-beta - 2.0.0", "1.5.0-beta", false),
        ("1.0.0 - 2.0.0-beta.2", "2.0.0-beta.1", true),
        ("1.0.0 - 2.0.0-beta.2", "2.0.0-beta.3", false),
        ("1.0.0 - 2.0.0-beta.2", "2.0.0", false),

        // --- Tilde ranges: patch-level changes if a minor is given, minor-level changes if not.
        // `~1.2.3` := >=1.2.3 <1.3.0
        ("~1.2.3", "1.2.3", true),
        ("~1.2.3", "1.2.9", true),
        ("~1.2.3", "1.2.2", false),
        ("~1.2.3", "1.3.0", false),
        ("~1.2.3", "1.3.0-beta", false),
        // `~1.2` := >=1.2.0 <1.3.0 (same as 1.2.x)
        ("~1.2", "1.2.0", true),
        ("~1.2", "1.2.99", true),
        ("~1.2", "1.1.9", false),
        ("~1.2", "1.3.0", false),
        // `~1` := >=1.0.0 <2.0.0 (same as 1.x)
        ("~1", "1.0.0", true),
        ("~1", "1.99.99", true),
        ("~1", "0.9.9", false),
        ("~1", "2.0.0", false),
        // `~0.2.3` := >=0.2.3 <0.3.0
        ("~0.2.3", "0.2.3", true),
        ("~0.2.3", "0.2.9", true),
        ("~0.2.3", "0.2.2", false),
        ("~0.2.3", "0.3.0", false),
        // `~0.2` := >=0.2.0 <0.3.0 (same as 0.2.x)
        ("~0.2", "0.2.0", true),
        ("~0.2", "0.2.7", true),
        ("~0.2", "0.3.0", false),
        ("~0.2", "0.1.9", false),
        // `~0` := >=0.0.0 <1.0.0 (same as 0.x)
        ("~0", "0.0.0", true),
        ("~0", "0.99.0", true),
        ("~0", "1.0.0", false),
        // `~1.2.3-beta.2` := >=1.2.3-beta.2 <1.3.0: 1.2.3-beta.4 allowed, 1.2.4-beta.2 not.
        ("~1.2.3-beta.2", "1.2.3-beta.2", true),
        ("~1.2.3-beta.2", "1.2.3-beta.4", true),
        ("~1.2.3-beta.2", "1.2.3-beta.1", false),
        ("~1.2.3-beta.2", "1.2.4-beta.2", false),
        ("~1.2.3-beta.2", "1.2.3", true),
        ("~1.2.3-beta.2", "1.2.9", true),
        ("~1.2.3-beta.2", "1.3.0", false),
        // Wildcards after a tilde are the same partial versions.
        ("~1.2.x", "1.2.9", true),
        ("~1.2.x", "1.3.0", false),
        ("~1.x", "1.9.0", true),
        ("~1.x", "2.0.0", false),
        // `~>` (as in Ruby) is read as `~`.
        ("~>1.2.3", "1.2.5", true),
        ("~>1.2.3", "1.3.0", false),

        // --- Caret ranges: changes that do not modify the left-most non-zero part.
        // `^1.2.3` := >=1.2.3 <2.0.0
        ("^1.2.3", "1.2.3", true),
        ("^1.2.3", "1.9.9", true),
        ("^1.2.3", "1.2.2", false),
        ("^1.2.3", "2.0.0", false),
        ("^1.2.3", "1.3.0-beta", false),
        ("^1.2.3", "2.0.0-alpha", false),
        // `^0.2.3` := >=0.2.3 <0.3.0
        ("^0.2.3", "0.2.3", true),
        ("^0.2.3", "0.2.9", true),
        ("^0.2.3", "0.2.2", false),
        ("^0.2.3", "0.3.0", false),
        ("^0.2.3-beta", "0.2.3-rc", true),
        ("^0.2.3-beta", "0.2.4-beta", false),
        // `^0.0.3` := >=0.0.3 <0.0.4 ("no updates for versions 0.0.X")
        ("^0.0.3", "0.0.3", true),
        ("^0.0.3", "0.0.4", false),
        ("^0.0.3", "0.0.2", false),
        ("^0.0.3", "0.1.0", false),
        ("^0.0.0", "0.0.0", true),
        ("^0.0.0", "0.0.1", false),
        // `^1.2.3-beta.2` := >=1.2.3-beta.2 <2.0.0: 1.2.3-beta.4 allowed, 1.2.4-beta.2 not.
        ("^1.2.3-beta.2", "1.2.3-beta.2", true),
        ("^1.2.3-beta.2", "1.2.3-beta.4", true),
        ("^1.2.3-beta.2", "1.2.3-beta.1", false),
        ("^1.2.3-beta.2", "1.2.4-beta.2", false),
        ("^1.2.3-beta.2", "1.9.0", true),
        ("^1.2.3-beta.2", "2.0.0", false),
        // `^0.0.3-beta` := >=0.0.3-beta <0.0.4: "0.0.3-pr.2 would be allowed".
        ("^0.0.3-beta", "0.0.3-pr.2", true),
        ("^0.0.3-beta", "0.0.3-alpha", false),
        ("^0.0.3-beta", "0.0.3", true),
        ("^0.0.3-beta", "0.0.4", false),
        ("^0.0.3-beta", "0.0.4-beta", false),
        // A missing patch desugars to 0 but stays flexible: `^1.2.x` := >=1.2.0 <2.0.0,
        // `^0.0.x` := >=0.0.0 <0.1.0, `^0.0` := >=0.0.0 <0.1.0.
        ("^1.2.x", "1.2.0", true),
        ("^1.2.x", "1.9.0", true),
        ("^1.2.x", "1.1.9", false),
        ("^1.2.x", "2.0.0", false),
        ("^0.0.x", "0.0.0", true),
        ("^0.0.x", "0.0.9", true),
        ("^0.0.x", "0.1.0", false),
        ("^0.0", "0.0.5", true),
        ("^0.0", "0.1.0", false),
        ("^1.2", "1.2.0", true),
        ("^1.2", "1.1.9", false),
        ("^0.1", "0.1.9", true),
        ("^0.1", "0.2.0", false),
        // Missing minor and patch: `^1.x` := >=1.0.0 <2.0.0, `^0.x` := >=0.0.0 <1.0.0.
        ("^1.x", "1.0.0", true),
        ("^1.x", "1.9.9", true),
        ("^1.x", "2.0.0", false),
        ("^0.x", "0.0.0", true),
        ("^0.x", "0.9.9", true),
        ("^0.x", "1.0.0", false),
        ("^0", "0.9.0", true),
        ("^0", "1.0.0", false),
        ("^*", "5.0.0", true),

        // --- Prerelease tags: a pre-release satisfies a comparator set only if a comparator with the
        //     same [major, minor, patch] has a pre-release. `>1.2.3-alpha.3` admits 1.2.3-alpha.7, not
        //     3.4.5-alpha.9; 3.4.5 does satisfy it.
        (">1.2.3-alpha.3", "1.2.3-alpha.7", true),
        (">1.2.3-alpha.3", "3.4.5-alpha.9", false),
        (">1.2.3-alpha.3", "3.4.5", true),
        (">1.2.3-alpha.3", "1.2.3-alpha.3", false),
        (">1.2.3-alpha.3", "1.2.3-alpha.2", false),
        (">1.2.3-alpha.3", "1.2.3-beta", true),
        (">1.2.3-alpha.3", "1.2.3", true),
        (">1.2.3-alpha.3", "1.2.4-alpha", false),
        (">=1.2.7", "1.3.0-beta", false),
        ("<2.0.0", "1.9.0-beta", false),
        ("<2.0.0", "2.0.0-beta", false),
        ("<1.2.3", "1.2.3-beta", false),
        ("1.2.3-beta.1", "1.2.3-beta.1", true),
        ("1.2.3-beta.1", "1.2.3-beta.2", false),
        ("1.2.3-beta.1", "1.2.3-beta.1+exp.sha.5114f85", true),
        (">=1.3.0-beta.1", "1.3.0-beta.2", true),
        (">=1.3.0-beta.1", "1.3.0", true),
        (">=1.3.0-beta.1", "1.3.1-beta", false),
        ("<1.2.3-rc.1", "1.2.3-beta", true),
        ("<1.2.3-rc.1", "1.2.2", true),
        ("<1.2.3-rc.1", "1.2.2-beta", false),
        (">=1.2.3-0", "1.2.3-alpha", true),
        (">=1.2.3-0", "1.2.3-0", true),
        (">1.0.0-alpha", "1.0.0-1", false),
        (">1.0.0-2", "1.0.0-10", true),
        (">=1.0.0 <=1.2.3-rc.5", "1.2.3-rc.1", true),
        (">=1.0.0 <=1.2.3-rc.5", "1.1.0-rc.1", false),
        // The rule applies per comparator set.
        (">=1.0.0-rc.1 <1.0.0 || 2.x", "1.0.0-rc.2", true),
        (">=1.0.0-rc.1 <1.0.0 || 2.x", "2.0.0-rc.1", false),
        (">=1.0.0-rc.1 <1.0.0 || 2.x", "2.1.0", true),
        ("1.2.3-beta.1 || >=2.0.0-rc.1", "2.0.0-rc.2", true),
        ("1.2.3-beta.1 || >=2.0.0-rc.1", "2.1.0-rc.1", false),

        // --- FleetRules loose forms (deliberately wider than npm, see the note on the suite).
        (">=2.4", "2.4.0", true),
        (">=02.04.001", "2.4.1", true),
        (">=02.04.001", "2.4.0", false),
        ("2.4.1", "02.04.001", true),
        ("^2.4.1", "v2.9", true),
        ("^2.4.1", "V3", false),
        (">=2.4.1", "v2.4.1", true),
        ("1.2.3", "1.2.3.0", true),
        ("1.2.3.4", "1.2.3.4", true),
        ("1.2.3.4", "1.2.3.5", false),
        ("1.2.3.4", "1.2.3", false),
        (">=1.2.3.4", "1.2.3.5", true),
        (">=1.2.3.4", "1.2.3.4", true),
        (">=1.2.3.4", "1.2.3", false),
        ("<1.2.3.1", "1.2.3", true),
        ("~1.2.3", "1.2.3.7", true),
        ("^1.2.3", "1.2.3.1", true),
        ("^1.2.3", "2.0.0.0", false),
        ("1.2.3.4 - 1.2.3.9", "1.2.3.6", true),
        ("1.2.3.4 - 1.2.3.9", "1.2.4", false),
    ]

    @Test(arguments: satisfaction)
    func rangeSatisfaction(_ range: String, _ version: String, _ expected: Bool) throws {
        let r = try VersionRange.parse(range).get()
        let v = try #require(Version(parsing: version), "the version in a range case must parse")
        #expect(r.isSatisfied(by: v) == expected, "\(range) against \(version)")
    }

    // MARK: precedence

    /// (lower, higher): `lower < higher` by SemVer 2.0 precedence.
    static let precedence: [(String, String)] = [
        // §11.2: major, minor, patch compared numerically. "1.0.0 < 2.0.0 < 2.1.0 < 2.1.1".
        ("1.0.0", "2.0.0"),
        ("2.0.0", "2.1.0"),
        ("2.1.0", "2.1.1"),
        ("1.9.0", "1.10.0"),
        ("1.10.0", "1.11.0"),
        ("0.0.9", "0.0.10"),
        ("2.9.9", "10.0.0"),
        ("0.9.9", "1.0.0-alpha"),
        ("1.2.3", "1.2.4-alpha"),
        // §11.3: a pre-release has lower precedence than its normal version.
        ("1.0.0-alpha", "1.0.0"),
        ("1.0.0-rc.1", "1.0.0"),
        // §11.4 chain: 1.0.0-alpha < 1.0.0-alpha.1 < 1.0.0-alpha.beta < 1.0.0-beta < 1.0.0-beta.2
        //              < 1.0.0-beta.11 < 1.0.0-rc.1 < 1.0.0.
        ("1.0.0-alpha", "1.0.0-alpha.1"),
        ("1.0.0-alpha.1", "1.0.0-alpha.beta"),
        ("1.0.0-alpha.beta", "1.0.0-beta"),
        ("1.0.0-beta", "1.0.0-beta.2"),
        ("1.0.0-beta.2", "1.0.0-beta.11"),
        ("1.0.0-beta.11", "1.0.0-rc.1"),
        // §11.4.1 numeric identifiers compare numerically; §11.4.2 alphanumeric ones in ASCII order;
        // §11.4.3 numeric identifiers are lower than alphanumeric ones; §11.4.4 more fields is higher.
        ("1.0.0-2", "1.0.0-10"),
        ("1.0.0-0", "1.0.0-1"),
        ("1.0.0-alpha.9", "1.0.0-alpha.10"),
        ("1.0.0-999999999999999999", "1.0.0-1000000000000000000"),
        ("1.0.0-1", "1.0.0-alpha"),
        ("1.0.0-99", "1.0.0-1a"),
        ("1.0.0-0", "1.0.0--"),
        ("1.0.0-a10", "1.0.0-a2"),
        ("1.0.0-Alpha", "1.0.0-alpha"),
        ("1.0.0-alpha", "1.0.0-alpha-1"),
        ("1.0.0-alpha.1", "1.0.0-alpha-1"),
        ("1.0.0-rc.1", "1.0.0-rc.1.0"),
        ("1.0.0-x.7.z.92", "1.0.0-x.7.z.93"),
        ("1.0.0-beta.11", "1.0.0-beta.1a"),
        // §10: build metadata is ignored; precedence comes from the rest.
        ("1.0.0+zzz", "1.0.1+aaa"),
        ("1.0.0-alpha+999", "1.0.0-beta+1"),
        ("1.0.0-rc.1+build.9", "1.0.0+build.1"),
        // Loose forms against strict ones.
        ("v1.2.3", "1.2.4"),
        ("1.2.3", "v1.2.4"),
        ("=1.2.3", "1.2.4"),
        ("02.04.001", "2.4.2"),
        ("2.4", "2.4.1"),
        ("2.3.9", "2.4"),
        ("2", "2.0.1"),
        ("1.9", "2"),
        ("01.10.0", "1.11.0"),
        ("1.2.9", "1.2.010"),
        ("v2.9.9", "2.10.0"),
        // Four-part versions: the fourth part orders within a patch.
        ("1.2.3", "1.2.3.1"),
        ("1.2.3.4", "1.2.3.5"),
        ("1.2.3.9", "1.2.3.10"),
        ("1.2.3.99", "1.2.4"),
        ("1.2.2.9", "1.2.3.0"),
        ("1.2.3.4-beta", "1.2.3.4"),
        ("1.2.3.0-rc.1", "1.2.3"),
        ("1.2.3-rc.1", "1.2.3.1-alpha"),
    ]

    @Test(arguments: precedence)
    func versionPrecedence(_ lower: String, _ higher: String) throws {
        let a = try #require(Version(parsing: lower))
        let b = try #require(Version(parsing: higher))
        #expect(a < b)
        #expect(!(b < a))
        #expect(a != b)
    }

    /// Pairs with equal precedence: build metadata ignored, loose spellings of the same version.
    static let equivalent: [(String, String)] = [
        ("1.0.0+a", "1.0.0+b"),
        ("1.0.0-alpha+001", "1.0.0-alpha"),
        ("1.0.0+20130313144700", "1.0.0"),
        ("1.0.0-beta+exp.sha.5114f85", "1.0.0-beta"),
        ("v1.2.3", "1.2.3"),
        ("V1.2.3", "1.2.3"),
        ("=1.2.3", "1.2.3"),
        (" 1.2.3 ", "1.2.3"),
        ("02.04.001", "2.4.1"),
        ("2.4", "2.4.0"),
        ("2", "2.0.0"),
        ("1.2.3.0", "1.2.3"),
        ("1.2.3.0-rc.1", "1.2.3-rc.1"),
        ("1.2.3+build-1", "1.2.3"),
        // Loose: leading zeros are read in pre-release numbers too (strict SemVer §9 forbids them).
        ("1.0.0-rc.01", "1.0.0-rc.1"),
    ]

    @Test(arguments: equivalent)
    func equalPrecedence(_ x: String, _ y: String) throws {
        let a = try #require(Version(parsing: x))
        let b = try #require(Version(parsing: y))
        #expect(a == b)
        #expect(!(a < b) && !(b < a))
        #expect(Set([a, b]).count == 1, "equal versions must hash alike")
    }

    // MARK: rejection

    /// Ranges that must be rejected with an error (and never crash). All of them are invalid in npm
    /// too, except where a comment says FleetRules is stricter.
    static let invalidRanges: [String] = [
        ">=",
        ">=1.2.3 <",
        "~",
        "^",
        "1.2.3 -",
        "- 1.2.3",
        "1.2.3 -2.0.0",
        "1.2.3 - 2.3.4 - 3.0.0",
        "~1.2 - 2",
        ">=x.y.z",
        "abc",
        "1.2.3-beta.*",
        "1.2-beta",
        "1.2.3-",
        "1.2.3-beta..1",
        "1.2.3+",
        "1.2.3+build..1",
        "1.2.3+b@d",
        "^^1",
        "~~1",
        "=>1.2.3",
        "=<1.2.3",
        "!1.2.3",
        "!=1.2.3",
        "1.2.3 | 2.0.0",
        ">=1.2.3<2.0.0",
        "1..2",
        "1.2.3a",
        "v",
        ">=v",
        "~v",
        "1.2.3.4.5",
        "99999999999999999999.0.0",
        "\u{FF11}.2.3",
        // FleetRules is stricter: npm reads an empty alternative as `*`.
        "1.2.3 ||",
        "|| 1.2.3",
        "||",
        "1.2.3 |||| 2.0.0",
    ]

    @Test(arguments: invalidRanges)
    func rejectsInvalidRange(_ text: String) {
        switch VersionRange.parse(text) {
        case .success(let r): Issue.record("'\(text)' parsed as \(r.sets)")
        case .failure(let e): #expect(!e.message.isEmpty)
        }
    }

    /// Versions that must be rejected (and never crash).
    static let invalidVersions: [String] = [
        "",
        "   ",
        "v",
        "vv1.2.3",
        "abc",
        "x.y.z",
        "1.2.x",
        "1.2.*",
        "1..2",
        ".1.2",
        "1.2.",
        "1.2.3.4.5",
        "1.2.3-",
        "1.2.3+",
        "1.2.3-beta+",
        "1.2.3-a..b",
        "1.2.3+a..b",
        "1.2.3-beta!",
        "1.2.3+build_7",
        "1.2.3-b\u{EA}ta",
        "1.2.3a",
        "-1.2.3",
        "1.-2.3",
        "1 .2.3",
        ">1.2.3",
        "~1.2.3",
        "^1.2.3",
        "1.2.3 || 1.2.4",
        "99999999999999999999.0.0",
        "1.\u{0662}.3",
        // FleetRules is stricter: npm keeps a numeric pre-release identifier beyond 2^63 - 1.
        "1.0.0-100000000000000000000",
    ]

    @Test(arguments: invalidVersions)
    func rejectsInvalidVersion(_ text: String) {
        #expect(Version(parsing: text) == nil)
    }
}
