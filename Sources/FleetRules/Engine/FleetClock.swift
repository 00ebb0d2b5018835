/// The fleet's time: how far the devices that reported recently have got. Each device behind
/// the last 256 accepted readings votes once, with its newest timestamp among them; the fleet's
/// time is the 90th percentile of the votes: the newest time reached by more than a tenth of
/// them (the second newest vote when three to nineteen devices vote, the newer of two). So a
/// tenth of the reporting devices may run ahead without moving it, one clock never moves it
/// alone (unless only two devices report), devices that fell silent do not hold it back, and a
/// whole fleet coming back after a gap moves it as soon as more than a tenth of the votes are
/// past the gap. While streaming, until 256 readings or every device of the inventory have been
/// seen, it is the oldest vote, so the first devices to report cannot set it ahead of the rest
/// (at the end of the data, `update(atEnd: true)`, the 90th percentile applies). It may go back
/// a little (readings are only roughly in order); nothing evaluated is undone.
struct FleetClock: Sendable {
    static let recentCapacity = 256

    /// Devices of the inventory.
    let devices: Int
    /// How far the fleet has got in event time; nil before any reading.
    private(set) var time: Double?
    /// The time `advance(to:)` last moved event time to: the fleet's time is never behind it.
    private var advancedTo = -Double.infinity
    /// Accepted readings observed so far.
    private(set) var observed = 0
    /// The last `recentCapacity` accepted readings (device, timestamp), a ring: the votes.
    private var recentDevice: [Int32]
    private var recentTime: [Double]
    /// Scratch for `update`: an open-addressing table (twice the ring) from a device to its
    /// vote, the votes with their devices, and the newest votes in descending order.
    private var voteTable = [Int32](repeating: -1, count: 2 * FleetClock.recentCapacity)
    private var voteDevice: [Int32] = []
    private var votes: [Double] = []
    private var newestVotes: [Double] = []

    init(devices: Int) {
        self.devices = devices
        recentDevice = Array(repeating: 0, count: Self.recentCapacity)
        recentTime = Array(repeating: 0, count: Self.recentCapacity)
    }

    /// Records an accepted reading as a vote. The fleet's time is recomputed often enough to
    /// follow the fleet within a fraction of one reporting round: after every reading at first,
    /// then every `devices / 8` readings (at most 1,024). Returns whether it was recomputed.
    mutating func observe(_ t: Double, device d: Int) -> Bool {
        let slot = observed & (Self.recentCapacity - 1)
        recentDevice[slot] = Int32(d)
        recentTime[slot] = t
        observed += 1
        guard observed <= Self.recentCapacity || observed % max(1, min(1024, devices / 8)) == 0 else { return false }
        return update()
    }

    /// Recomputes the fleet's time from the votes; false when there are none yet. Cost: one
    /// pass over the ring with a small hash table, and a selection of the k-th newest vote (k ≤ 26).
    @discardableResult
    mutating func update(atEnd: Bool = false) -> Bool {
        let count = min(observed, Self.recentCapacity)
        guard count > 0 else { return false }
        for i in voteTable.indices { voteTable[i] = -1 }
        votes.removeAll(keepingCapacity: true)
        voteDevice.removeAll(keepingCapacity: true)
        let mask = voteTable.count - 1
        for i in 0..<count {
            let d = recentDevice[i]
            let t = recentTime[i]
            // Fibonacci hashing into the table's 512 slots; linear probing.
            var h = Int((UInt32(bitPattern: d) &* 2_654_435_761) >> 23) & mask
            while true {
                let v = Int(voteTable[h])
                if v < 0 {
                    voteTable[h] = Int32(votes.count)
                    votes.append(t)
                    voteDevice.append(d)
                    break
                }
                if voteDevice[v] == d {
                    votes[v] = max(votes[v], t)
                    break
                }
                h = (h + 1) & mask
            }
        }
        let fleet: Double
        if !atEnd, observed < Self.recentCapacity, votes.count < devices {
            // Warming up: the oldest vote, so the first devices to report cannot set it ahead of the rest.
            fleet = votes.min() ?? recentTime[0]
        } else {
            let ignored = votes.count >= 3 ? max(1, votes.count / 10) : 0
            fleet = Self.largest(ignored + 1, of: votes, keeping: &newestVotes)
        }
        time = max(fleet, advancedTo)
        return true
    }

    /// Moves event time to `t` without a reading (a live service's clock).
    mutating func advance(to t: Double) {
        advancedTo = max(advancedTo, t)
        time = max(time ?? t, t)
    }

    /// Event time up to which buffered readings are evaluated: `lateness` behind the fleet's time.
    func watermark(lateness: Double) -> Double {
        guard let time else { return -.infinity }
        return time - lateness
    }

    /// The k-th largest of `values` (1 ≤ k ≤ values.count): one pass keeping the k largest in
    /// descending order in `top`, so a few comparisons per value when k is small.
    static func largest(_ k: Int, of values: [Double], keeping top: inout [Double]) -> Double {
        top.removeAll(keepingCapacity: true)
        for v in values {
            if top.count == k {
                if v <= top[k - 1] { continue }
                top.removeLast()
            }
            var i = top.count
            top.append(v)
            while i > 0, top[i - 1] < v {
                top[i] = top[i - 1]
                i -= 1
            }
            top[i] = v
        }
        return top[k - 1]
    }
}
