import Testing

@testable import FleetRules

/// The interner behind device and field lookups: ids of every length (the first 8 bytes are
/// compared in the table slot, the rest in storage), shared prefixes, and growth.
@Suite struct ByteInternerTests {
    static let names: [String] = {
        var names = ["", "a", "d-1", "d-12345", "d-123456", "d-1234567", "d-12345678"]
        // Same 16-byte head, different tails and lengths.
        names += ["0123456789abcdef", "0123456789abcdefX", "0123456789abcdefY", "0123456789abcdef0123456789"]
        names += ["00:1A:2B:3C:4D:5E", "00:1A:2B:3C:4D:5F", "8f14e45f-ceea-467f-a8f1-5c9b1e8d2c11", "pompe-ü-7"]
        names += (0..<3000).map { "sensor-\($0)" }
        return names
    }()

    @Test func everyNameFindsItsOwnIdAfterGrowth() {
        var interner = ByteInterner(capacity: 4)
        let ids = Self.names.map { interner.intern($0) }
        #expect(ids == Array(0..<Self.names.count))
        #expect(interner.count == Self.names.count)
        for (i, name) in Self.names.enumerated() {
            #expect(interner.find(name) == i, "\(name)")
            #expect(interner.intern(name) == i)
            #expect(interner.names[i] == name)
        }
    }

    @Test func nearMissesAreNotFound() {
        var interner = ByteInterner()
        for name in Self.names { _ = interner.intern(name) }
        for probe in [
            "d-12", "d-1234", "0123456789abcdeX", "0123456789abcdefZ", "0123456789abcdef012345678", "00:1A:2B:3C:4D:5",
            "b", " a", "sensor-3000",
        ] {
            #expect(interner.find(probe) == nil, "\(probe)")
        }
    }
}
