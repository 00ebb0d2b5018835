/// The event times at which the engine must look at a (device, operator) without a reading: a
/// `for` duration elapsing, an `absent`/`age` threshold passing, a compliance deadline. Timers
/// fire in (time, device, operator) order.
struct TimerQueue: Sendable {
    struct Timer: Sendable, Comparable {
        static func < (a: Timer, b: Timer) -> Bool { (a.time, a.device, a.op) < (b.time, b.device, b.op) }
        var time: Double
        var device: Int
        var op: Int
    }

    private var heap = MinHeap<Timer>()

    mutating func schedule(at time: Double, device: Int, op: Int) {
        heap.push(Timer(time: time, device: device, op: op))
    }

    /// Removes and returns the earliest timer due strictly before `t`.
    mutating func pop(before t: Double) -> Timer? {
        guard let next = heap.min, next.time < t else { return nil }
        return heap.pop()
    }

    /// Removes and returns the earliest timer due at or before `t`.
    mutating func pop(upTo t: Double) -> Timer? {
        guard let next = heap.min, next.time <= t else { return nil }
        return heap.pop()
    }
}
