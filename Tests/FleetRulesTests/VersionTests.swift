import Testing

@testable import FleetRules

@Suite struct VersionTests {
    @Test(arguments: [
        ("1.0.0-alpha", "1.0.0-alpha.1"), ("1.0.0-alpha.1", "1.0.0-alpha.beta"), ("1.0.0-alpha.beta", "1.0.0-beta"),
        ("1.0.0-beta", "1.0.0-beta.2"), ("1.0.0-beta.2", "1.0.0-beta.11"), ("1.0.0-beta.11", "1.0.0-rc.1"),
        ("1.0.0-rc.1", "1.0.0"), ("2.4", "2.4.1"), ("02.04.001", "2.4.2"), ("1.2.3.4", "1.2.3.5"), ("1.2.3", "1.2.3.1"),
        ("v2.9.9", "2.10.0"),
    ])
    func precedence(_ lower: String, _ higher: String) throws {
        let a = try #require(Version(parsing: lower))
        let b = try #require(Version(parsing: higher))
        #expect(a < b)
        #expect(!(b < a))
    }

    @Test func buildMetadataDoesNotAffectPrecedence() throws {
        #expect(try #require(Version(parsing: "2.4.1+build.7")) == (try #require(Version(parsing: "2.4.1"))))
    }

    @Test(arguments: ["", "x.y", "1..2", "1.2.3-", "1.2.3+", "1.2.3.4.5", "abc", "1.2.3-a..b"])
    func unparseableVersions(_ text: String) {
        #expect(Version(parsing: text) == nil)
    }

    @Test(arguments: [
        (">=2.4.1", "2.4.1", true), (">=2.4.1", "2.4.0", false), ("^1.2.3", "1.9.0", true), ("^1.2.3", "2.0.0", false),
        ("^0.2.3", "0.2.9", true), ("^0.2.3", "0.3.0", false), ("~1.2", "1.2.9", true), ("~1.2", "1.3.0", false),
        ("1.2.x", "1.2.7", true), ("1.x", "2.0.0", false), ("1.2.3 - 2.3.4", "2.3.4", true),
        ("1.2.3 - 2.3", "2.3.9", true), ("1.2.3 - 2.3", "2.4.0", false), ("2.4.2 || 1.8.1", "1.8.1", true),
        (">=1.2.3", "1.3.0-beta", false), (">=1.3.0-beta.1", "1.3.0-beta.2", true), ("*", "0.0.1", true),
        (">1.2", "1.2.9", false), (">1.2", "1.3.0", true), ("<=1.2", "1.2.9", true),
    ])
    func rangeSatisfaction(_ range: String, _ version: String, _ expected: Bool) throws {
        let r = try VersionRange.parse(range).get()
        let v = try #require(Version(parsing: version))
        #expect(r.isSatisfied(by: v) == expected)
    }

    @Test(arguments: [">=", "1.2.3 -", ">=x.y.z", "1.2.3-beta.*", "^^1", ">=1.2.3 <"])
    func invalidRanges(_ text: String) {
        #expect((try? VersionRange.parse(text).get()) == nil)
    }
}

@Suite struct TimeTextTests {
    @Test func parsesRFC3339Forms() {
        #expect(Timestamp.parse("1970-01-01T00:00:00Z") == 0)
        #expect(Timestamp.parse("2026-03-01T00:05:00Z") == 1_772_323_500)
        #expect(Timestamp.parse("2026-03-01T01:05:00+01:00") == 1_772_323_500)
        #expect(Timestamp.parse("2026-03-01T00:05:00.250Z") == 1_772_323_500.25)
        #expect(Timestamp.parse("2026-02-30T00:00:00Z") == nil)
        #expect(Timestamp.parse("2026-03-01") == nil)
    }

    @Test func formatsRoundTrip() {
        #expect(Timestamp.format(1_772_323_500) == "2026-03-01T00:05:00Z")
        #expect(Timestamp.format(-86400) == "1969-12-31T00:00:00Z")
    }

    @Test func durations() {
        #expect(DurationText.seconds("1h30m") == 5400)
        #expect(DurationText.seconds("500ms") == 0.5)
        #expect(DurationText.seconds("7d") == 604_800)
        #expect(DurationText.seconds("10x") == nil)
        #expect(DurationText.seconds("15") == nil)
        #expect(DurationText.format(5400) == "1h30m")
    }
}
