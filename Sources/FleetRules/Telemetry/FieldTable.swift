import Foundation

/// Interns byte strings (field names, device ids) to dense integer ids without allocating a
/// String per lookup: open addressing over a word-at-a-time multiplicative hash of the raw bytes.
public struct ByteInterner: Sendable {
    private var storage: [UInt8] = []
    private var offsets: [Int] = [0]
    /// A table slot holds the first 8 bytes of its string (zero-padded), its id and length, in
    /// 16 bytes: an id of up to 8 bytes is found by reading one slot and nothing else, and the
    /// table of a 10k-device fleet (256 KiB) has a chance to stay in cache beside the engine's
    /// state. Longer ids compare the rest in storage.
    private struct Slot: Sendable {
        var head: UInt64 = 0
        var id: Int32 = -1
        var length: Int32 = 0
    }

    /// The first 8 bytes of `b`, zero-padded, as one word.
    @inline(__always)
    private static func head(_ b: UnsafeBufferPointer<UInt8>) -> UInt64 {
        guard let base = b.baseAddress else { return 0 }
        let raw = UnsafeRawPointer(base)
        if b.count >= 8 { return raw.loadUnaligned(as: UInt64.self) }
        var word: UInt64 = 0
        withUnsafeMutableBytes(of: &word) { w in
            w.copyMemory(from: UnsafeRawBufferPointer(start: raw, count: b.count))
        }
        return word
    }

    /// Slots for `count` names at a load of at most three quarters (linear probing stays short).
    private static func tableSize(for count: Int) -> Int {
        var size = 16
        while size * 3 < count * 4 { size <<= 1 }
        return size
    }
    private var slots: [Slot]
    private var mask: Int
    public private(set) var names: [String] = []

    public init(capacity: Int = 64) {
        let size = Self.tableSize(for: capacity + 1)
        slots = Array(repeating: Slot(), count: size)
        mask = size - 1
    }

    public var count: Int { names.count }

    /// Eight bytes at a time (device ids are short; this runs once per telemetry line).
    static func hash(_ b: UnsafeBufferPointer<UInt8>) -> Int {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325 ^ UInt64(b.count)
        guard let base = b.baseAddress else { return Int(truncatingIfNeeded: h) }
        let raw = UnsafeRawPointer(base)
        var i = 0
        while i + 8 <= b.count {
            h = (h ^ raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0x9e37_79b9_7f4a_7c15
            h ^= h >> 32
            i += 8
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while i < b.count {
            tail |= UInt64(base[i]) << shift
            shift += 8
            i += 1
        }
        h = (h ^ tail) &* 0x9e37_79b9_7f4a_7c15
        return Int(truncatingIfNeeded: h ^ (h >> 29))
    }

    private func equals(_ slot: Slot, _ b: UnsafeBufferPointer<UInt8>, head: UInt64) -> Bool {
        let length = Int(slot.length)
        guard length == b.count, slot.head == head else { return false }
        if length <= 8 { return true }
        let start = offsets[Int(slot.id)]
        return storage.withUnsafeBufferPointer { s in
            guard let stored = s.baseAddress, let probe = b.baseAddress else { return false }
            // The first 8 bytes matched in the slot; the rest eight bytes at a time.
            let x = UnsafeRawPointer(stored + start)
            let y = UnsafeRawPointer(probe)
            var i = 8
            while i + 8 <= length {
                if x.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                    != y.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                {
                    return false
                }
                i += 8
            }
            while i < length {
                if x.load(fromByteOffset: i, as: UInt8.self) != y.load(fromByteOffset: i, as: UInt8.self) {
                    return false
                }
                i += 1
            }
            return true
        }
    }

    /// The id of `b`, or nil when it was never interned.
    public func find(_ b: UnsafeBufferPointer<UInt8>) -> Int? {
        var i = Self.hash(b) & mask
        let head = Self.head(b)
        while true {
            let slot = slots[i]
            if slot.id < 0 { return nil }
            if equals(slot, b, head: head) { return Int(slot.id) }
            i = (i + 1) & mask
        }
    }

    /// The id of `b`, interning it when new.
    public mutating func intern(_ b: UnsafeBufferPointer<UInt8>) -> Int {
        if let id = find(b) { return id }
        let id = names.count
        storage.append(contentsOf: b)
        offsets.append(storage.count)
        names.append(String(decoding: b, as: UTF8.self))
        if names.count * 4 > slots.count * 3 { grow() } else { insertSlot(b, id) }
        return id
    }

    public mutating func intern(_ s: String) -> Int {
        var s = s
        return s.withUTF8 { intern($0) }
    }

    public func find(_ s: String) -> Int? {
        var s = s
        return s.withUTF8 { find($0) }
    }

    private mutating func insertSlot(_ b: UnsafeBufferPointer<UInt8>, _ id: Int) {
        var i = Self.hash(b) & mask
        while slots[i].id >= 0 { i = (i + 1) & mask }
        slots[i] = Slot(head: Self.head(b), id: Int32(id), length: Int32(b.count))
    }

    private mutating func grow() {
        let size = slots.count * 2
        slots = Array(repeating: Slot(), count: size)
        mask = size - 1
        let copy = storage
        copy.withUnsafeBufferPointer { s in
            for id in 0..<names.count {
                let b = UnsafeBufferPointer(rebasing: s[offsets[id]..<offsets[id + 1]])
                insertSlot(b, id)
            }
        }
    }
}
