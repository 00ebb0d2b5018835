import Foundation
import Testing

@testable import FleetRules
@testable import FleetRulesDelivery

/// The shared readers behind policies, rule tests and delivery files: one mistake, one message.
@Suite struct YAMLScalarTests {
    /// Loads `text` (a mapping) and returns its root and the bag the readers report into.
    static func root(_ text: String) throws -> YAMLNode {
        var bag = DiagnosticBag()
        let node = YAMLLoader().load(Array(text.utf8), file: "f.yaml", into: &bag)
        #expect(bag.items.isEmpty)
        return try #require(node)
    }

    static func value(_ text: String) throws -> YAMLNode {
        guard case .mapping(let entries) = try root("v: \(text)\n").kind, let v = entries.first?.value else {
            throw CancellationError()
        }
        return v
    }

    static func duration(_ text: String, allowZero: Bool = false) throws -> (Double?, [String]) {
        var bag = DiagnosticBag()
        let v = bag.duration(try value(text), "timeout", allowZero: allowZero)
        return (v, bag.items.map(\.headline) + bag.items.compactMap(\.hint))
    }

    @Test func durationsAreReadWithTheirUnit() throws {
        #expect(try Self.duration("1h30m").0 == 5400)
        #expect(try Self.duration("2w").0 == 14 * 86400)
        #expect(try Self.duration("0s", allowZero: true).0 == 0)
    }

    @Test func aNegativeDurationIsNamedAsSuch() throws {
        let (v, lines) = try Self.duration("-5m")
        #expect(v == nil)
        #expect(
            lines == [
                "f.yaml:1:4: error[E0112]: timeout must be positive, found '-5m'",
                "durations count forward in event time, e.g. 5m",
            ])
    }

    @Test func aBareNumberIsMissingItsUnit() throws {
        let (v, lines) = try Self.duration("30")
        #expect(v == nil)
        #expect(lines == ["f.yaml:1:4: error[E0112]: timeout '30' has no unit", "add a unit: 30s, 30m, 30h or 30d"])
    }

    @Test func aZeroDurationNeedsPermission() throws {
        let (v, lines) = try Self.duration("0s")
        #expect(v == nil)
        #expect(lines.first == "f.yaml:1:4: error[E0112]: timeout must be longer than zero")
    }

    @Test func aMisspelledUnitGetsItsRespelling() throws {
        let (v, lines) = try Self.duration("15min")
        #expect(v == nil)
        #expect(lines == ["f.yaml:1:4: error[E0112]: invalid duration '15min' in timeout", "write 15m"])
    }

    @Test func aTimestampErrorShowsWhatWasFound() throws {
        var bag = DiagnosticBag()
        #expect(bag.timestamp(try Self.value("2026-03-02"), "ends") == nil)
        #expect(bag.timestamp(try Self.value("null"), "ends") == nil)
        #expect(bag.timestamp(try Self.value("2026-03-02T00:00:00Z"), "ends") == 1_772_409_600)
        #expect(
            bag.items.map(\.headline) == [
                "f.yaml:1:4: error[E0113]: ends must be an RFC 3339 timestamp, found '2026-03-02'",
                "f.yaml:1:4: error[E0113]: ends must be an RFC 3339 timestamp, found null",
            ])
    }

    @Test func anInvalidNameGetsASuggestion() throws {
        var bag = DiagnosticBag()
        #expect(bag.name(try Self.value("Ops Team"), "receiver name") == nil)
        #expect(bag.items.first?.hint?.hasSuffix("e.g. 'ops-team'") == true)
    }

    @Test func aMisspelledRequiredKeyIsReportedOnce() throws {
        var bag = DiagnosticBag()
        let f = bag.fields(
            try Self.root("nmae: x\nphone: '+4915112345678'\n"), in: "a contact", known: ["name", "phone"],
            required: ["name", "phone"], hint: { "\($0): who is paged" })
        #expect(f?.keys.sorted() == ["phone"])
        #expect(bag.items.map(\.headline) == ["f.yaml:1:1: error[E0103]: unknown key 'nmae' in a contact"])
        #expect(bag.items.first?.hint == "did you mean 'name'?")
    }

    @Test func aMissingKeyCarriesItsHint() throws {
        var bag = DiagnosticBag()
        _ = bag.fields(
            try Self.root("phone: '+4915112345678'\n"), in: "a contact", known: ["name", "phone"],
            required: ["name", "phone"], hint: { "\($0): who is paged" })
        #expect(bag.items.map(\.headline) == ["f.yaml:1:1: error[E0105]: a contact is missing the required key 'name'"])
        #expect(bag.items.first?.hint == "name: who is paged")
    }

    @Test func aDuplicateUnknownKeyIsReportedAsDuplicateOnly() throws {
        var bag = DiagnosticBag()
        _ = bag.fields(try Self.root("x: 1\nx: 2\n"), in: "a route", known: ["receiver"], required: [])
        #expect(
            bag.items.map(\.headline) == [
                "f.yaml:2:1: error[E0106]: duplicate key 'x'", "f.yaml:1:1: error[E0103]: unknown key 'x' in a route",
            ])
    }

    /// A delivery file and a policy get the same message for the same mistake.
    @Test func deliveryFilesShareThePolicyMessages() {
        let r = DeliveryLoader.check(
            bytes: Array(
                """
                delivery: 1
                receivers:
                  - name: sms
                    sms:
                      gateway: http://127.0.0.1:1
                      batch_window: -1m
                      contacts:
                        - { nmae: a, phone: "+4915112345678" }
                route: { receiver: sms, group_wait: 30 }
                silences:
                  - { match: { site: a }, ends: 2026-12-01 }
                """.utf8), file: "d.yaml")
        let heads = r.diagnostics.map(\.headline)
        #expect(heads.contains("d.yaml:6:21: error[E0112]: batch_window must be positive, found '-1m'"))
        #expect(heads.contains("d.yaml:8:13: error[E0103]: unknown key 'nmae' in a contact"))
        #expect(!heads.contains { $0.contains("missing the required key 'name'") })
        #expect(heads.contains("d.yaml:9:37: error[E0112]: group_wait '30' has no unit"))
        #expect(heads.contains("d.yaml:11:33: error[E0113]: ends must be an RFC 3339 timestamp, found '2026-12-01'"))
    }
}
