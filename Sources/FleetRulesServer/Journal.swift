import FleetRules
import FleetRulesDelivery
import Foundation

/// The accepted readings of the recent past, as JSON Lines in arrival order: what a reload
/// replays into the new plan's engine and what `--state-dir` keeps across a restart.
///
/// It keeps whole batches (one per ingest request) while the newest timestamp of a batch is
/// within `horizon` of the newest timestamp seen, and at most `maxBytes` in all (oldest
/// batches go first). With a state directory every batch is appended to `journal.jsonl`
/// before the request is answered, and the file is rewritten when half of it has expired.
struct Journal: Sendable {
    struct Batch: Sendable {
        var newest: Double
        var bytes: [UInt8]
    }
    private(set) var batches: [Batch] = []
    private(set) var bytes = 0
    var horizon: Double
    let maxBytes: Int
    let file: URL?
    /// Bytes in the file that belong to batches already dropped.
    private var expiredInFile = 0
    /// `always`: fsync after every append; `batch`: at most once a second; `none`: never.
    let sync: SyncMode
    private var lastSync = 0.0

    init(horizon: Double, maxBytes: Int, stateDir: URL?, sync: SyncMode = .batch) {
        self.horizon = horizon
        self.maxBytes = maxBytes
        self.sync = sync
        file = stateDir?.appendingPathComponent("journal.jsonl")
    }

    /// The journal file's contents from a previous run (empty when there is none).
    func restore() throws -> [UInt8] {
        guard let file, FileManager.default.fileExists(atPath: file.path) else { return [] }
        return [UInt8](try Data(contentsOf: file))
    }

    /// Takes restored lines as the first batch and rewrites the file to hold just them.
    mutating func adopt(_ lines: [UInt8], newest: Double?) throws {
        batches = lines.isEmpty ? [] : [Batch(newest: newest ?? 0, bytes: lines)]
        bytes = lines.count
        try rewrite()
    }

    mutating func append(_ lines: [UInt8], newest: Double?) throws {
        guard !lines.isEmpty else { return }
        batches.append(Batch(newest: newest ?? 0, bytes: lines))
        bytes += lines.count
        if let file {
            if !FileManager.default.fileExists(atPath: file.path) {
                _ = FileManager.default.createFile(atPath: file.path, contents: nil)
            }
            let handle = try FileHandle(forWritingTo: file)
            defer { try? handle.close() }
            try handle.seekToEnd()
            try handle.write(contentsOf: lines)
            let now = Date().timeIntervalSince1970
            if sync == .always || (sync == .batch && now - lastSync >= 1) {
                try handle.synchronize()
                lastSync = now
            }
        }
        try prune(latest: newest)
    }

    /// Drops batches older than the horizon or beyond the byte budget.
    mutating func prune(latest: Double?) throws {
        var drop = 0
        var dropped = 0
        while drop < batches.count {
            let b = batches[drop]
            let old = latest.map { b.newest < $0 - horizon } ?? false
            guard old || bytes - dropped > maxBytes else { break }
            dropped += b.bytes.count
            drop += 1
        }
        guard drop > 0 else { return }
        batches.removeFirst(drop)
        bytes -= dropped
        expiredInFile += dropped
        if expiredInFile > bytes { try rewrite() }
    }

    /// Writes the kept batches to the file (atomically), e.g. at shutdown or after pruning.
    mutating func rewrite() throws {
        guard let file else { return }
        var all: [UInt8] = []
        all.reserveCapacity(bytes)
        for b in batches { all.append(contentsOf: b.bytes) }
        try Data(all).write(to: file, options: .atomic)
        expiredInFile = 0
    }

    /// Everything kept, in arrival order, as one JSON Lines body.
    var contents: [UInt8] {
        var all: [UInt8] = []
        all.reserveCapacity(bytes)
        for b in batches { all.append(contentsOf: b.bytes) }
        return all
    }

    /// How far back a plan needs readings to rebuild its windows and pending `for` timers:
    /// the longest raw history it keeps plus the longest `for`, plus the allowed lateness.
    static func horizon(for plan: EvaluationPlan) -> Double {
        let history = plan.retention.max() ?? 0
        var longestFor = 0.0
        for op in plan.operators {
            if case .condition(_, let d, _) = op.evaluation { longestFor = max(longestFor, d) }
        }
        return history + longestFor + plan.lateness
    }
}
