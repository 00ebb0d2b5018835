/// Accepted readings waiting to be evaluated in event time. In-order arrivals queue up in a
/// FIFO; stragglers go to a heap; processing merges both by (time, sequence), so the split only
/// decides speed. A reading's values live in a fixed-size slot of a pool (no allocation per
/// reading); its attribute strings, rare, in a side table by sequence.
///
/// Readings far ahead of the fleet's time are held apart (`hold`) until the fleet comes near
/// them (`review`), each with the number of observed readings at which it expires.
struct ReorderBuffer: Sendable {
    struct Pending: Sendable, Comparable {
        static func < (a: Pending, b: Pending) -> Bool { (a.time, a.sequence) < (b.time, b.sequence) }
        static func == (a: Pending, b: Pending) -> Bool { a.sequence == b.sequence }
        var time: Double
        var sequence: Int
        var device: Int32
        var gateway: Int32
        var slot: Int32
        var count: Int32
        var hasStrings: Bool
        /// It arrived more than `maxForwardJump` ahead of the fleet's time (or was the first
        /// reading, with no fleet's time to judge it by), so it may be rejected as `future`: its
        /// timestamp joins the data's span and its dropped values are counted when it is
        /// evaluated; its origin and dropped values wait in `heldLines` until then.
        var heldAhead: Bool
    }

    /// What a line marked `Pending.heldAhead` left to count: its origin (for the `future`
    /// example) and the values dropped from it (counted only if it is evaluated).
    struct HeldLine: Sendable {
        var origin: ReadingOrigin?
        var drops: [InputStats.Example]
    }

    private var fifo: [Pending] = []
    private var fifoHead = 0
    private var stragglers = MinHeap<Pending>()
    private var lastQueued = -Double.infinity
    /// Values of pending readings: fixed-size slots of `slotSize` (metric, value) pairs.
    let slotSize: Int
    private(set) var poolMetric: [Int32] = []
    private(set) var poolValue: [Double] = []
    private var freeSlots: [Int32] = []
    private var pendingStrings: [Int: [(slot: Int, value: String)]] = [:]
    /// The sequence number of the latest reading added.
    private(set) var sequence = 0
    /// Readings held, in arrival order, each with the observed count at which it expires.
    private var held: [(reading: Pending, expires: Int)] = []
    private var heldLines: [Int: HeldLine] = [:]

    init(metrics: Int) {
        slotSize = max(1, metrics)
    }

    /// Readings held now, waiting for the fleet's time to come near them.
    var heldCount: Int { held.count }

    /// Numbers a new reading: its sequence breaks ties of equal timestamps in arrival order.
    mutating func nextSequence() -> Int {
        sequence += 1
        return sequence
    }

    /// Stores the first `count` values of `values` in a free slot; returns the slot.
    mutating func store(_ values: [(Int, Double)], count: Int) -> Int32 {
        let slot: Int32
        if let free = freeSlots.popLast() {
            slot = free
        } else {
            slot = Int32(poolMetric.count / slotSize)
            poolMetric.append(contentsOf: repeatElement(0, count: slotSize))
            poolValue.append(contentsOf: repeatElement(0, count: slotSize))
        }
        let base = Int(slot) * slotSize
        for i in 0..<count {
            poolMetric[base + i] = Int32(values[i].0)
            poolValue[base + i] = values[i].1
        }
        return slot
    }

    mutating func storeStrings(_ strings: [(Int, String)], sequence: Int) {
        pendingStrings[sequence] = strings.map { (slot: $0.0, value: $0.1) }
    }

    mutating func takeStrings(sequence: Int) -> [(slot: Int, value: String)]? {
        pendingStrings.removeValue(forKey: sequence)
    }

    /// Returns a processed or discarded reading's slot to the pool.
    mutating func free(_ slot: Int32) { freeSlots.append(slot) }

    /// Drops a reading that will not be evaluated: its strings and its slot.
    mutating func discard(_ p: Pending) {
        if p.hasStrings { pendingStrings.removeValue(forKey: p.sequence) }
        freeSlots.append(p.slot)
    }

    /// Queues an accepted reading. A clock running ahead of the fleet must not make the FIFO's
    /// tail so late that everyone else's readings go to the heap: when an earlier reading
    /// arrives behind such a tail, the tail moves to the heap instead.
    mutating func enqueue(_ p: Pending, fleetTime: Double?) {
        if p.time < lastQueued {
            let fleet = fleetTime ?? -.infinity
            while fifo.count > fifoHead, let last = fifo.last, last.time > p.time, last.time > fleet {
                stragglers.push(last)
                fifo.removeLast()
            }
            lastQueued = fifo.count > fifoHead ? fifo[fifo.count - 1].time : -.infinity
        }
        if p.time >= lastQueued {
            fifo.append(p)
            lastQueued = p.time
        } else {
            stragglers.push(p)
        }
    }

    /// Holds a reading far ahead of the fleet until `review` moves it to the queue or it expires.
    mutating func hold(_ p: Pending, expires: Int, line: HeldLine?) {
        if let line { heldLines[p.sequence] = line }
        held.append((p, expires))
    }

    /// Moves the held readings within `maxForwardJump` of the fleet's time to the queue and
    /// returns, in arrival order, those expired by `observed` while still further ahead.
    mutating func review(fleet: Double, maxForwardJump: Double, observed: Int) -> [Pending] {
        guard !held.isEmpty else { return [] }
        var expired: [Pending] = []
        var kept = 0
        for i in held.indices {
            let h = held[i]
            if h.reading.time <= fleet + maxForwardJump {
                enqueue(h.reading, fleetTime: fleet)
            } else if observed >= h.expires {
                expired.append(h.reading)
            } else {
                held[kept] = h
                kept += 1
            }
        }
        held.removeLast(held.count - kept)
        return expired
    }

    /// Every reading still held, in arrival order; none is held after.
    mutating func takeHeld() -> [Pending] {
        defer { held.removeAll() }
        return held.map(\.reading)
    }

    /// What a held line left to count, removed.
    mutating func takeHeldLine(sequence: Int) -> HeldLine? { heldLines.removeValue(forKey: sequence) }

    /// The earliest buffered reading, from the in-order queue or the stragglers.
    func next() -> Pending? {
        let a = fifoHead < fifo.count ? fifo[fifoHead] : nil
        guard let b = stragglers.min else { return a }
        guard let a else { return b }
        return b < a ? b : a
    }

    /// Removes the earliest buffered reading (`next()`).
    mutating func pop() {
        let fromFifo = fifoHead < fifo.count && (stragglers.min.map { !($0 < fifo[fifoHead]) } ?? true)
        if fromFifo {
            fifoHead += 1
            if fifoHead > 4096, fifoHead * 2 > fifo.count {
                fifo.removeFirst(fifoHead)
                fifoHead = 0
            }
        } else {
            _ = stragglers.pop()
        }
    }

    /// The reading `offset` places behind the head of the in-order queue, for prefetching.
    @inline(__always)
    func queued(_ offset: Int) -> Pending? {
        let i = fifoHead + offset
        return i < fifo.count ? fifo[i] : nil
    }
}
