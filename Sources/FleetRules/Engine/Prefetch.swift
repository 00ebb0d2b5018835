import CPrefetch

extension Array {
    /// Asks the cache for element `index` (a hint: out-of-range indices are ignored). The engine
    /// calls it for the device of a reading a few places ahead in its queue, so the cache misses
    /// of a large fleet overlap instead of stalling one after another.
    @inline(__always)
    func prefetch(_ index: Int) {
        withUnsafeBufferPointer { b in
            guard index >= 0, index < b.count, let base = b.baseAddress else { return }
            fleetrules_prefetch(base + index)
        }
    }

    /// The same for `count` consecutive elements from `index`, one hint per cache line.
    @inline(__always)
    func prefetch(_ index: Int, count: Int) {
        withUnsafeBytes { raw in
            guard index >= 0, let base = raw.baseAddress else { return }
            let start = index * MemoryLayout<Element>.stride
            let end = Swift.min(raw.count, start + count * MemoryLayout<Element>.stride)
            var offset = start
            while offset < end {
                fleetrules_prefetch(base + offset)
                offset += 64
            }
        }
    }
}
