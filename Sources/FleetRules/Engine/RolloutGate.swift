/// The health gate of one compliance rule's rollout (`rollout.abort`): which devices took the
/// target (after `started`), which of them failed (fell back, or went silent within `stale`
/// of taking it), and the one campaign-level critical alert once the failed share reaches the
/// gate. State per device is a time and a flag; the counts are kept as they change.
struct RolloutGate: Sendable {
    let abort: RolloutAbort
    /// When each device took the target (-inf: not yet).
    private(set) var tookAt: [Double]
    private(set) var failed: [Bool]
    private(set) var took = 0
    private(set) var failures = 0
    /// The first failed devices, in the order they failed.
    private(set) var firstFailed: [Int] = []
    /// The campaign's alert in the episode log (-1: not aborted).
    var episode: Int32 = -1

    static let listed = 10
    /// The site of the campaign's alert: a campaign spans sites, and routes match on `site`.
    static let site = "fleet"

    init(abort: RolloutAbort, devices n: Int) {
        self.abort = abort
        tookAt = Array(repeating: -.infinity, count: n)
        failed = Array(repeating: false, count: n)
    }

    /// Notes what a device's tracker says at `t`; returns whether the device failed just now.
    mutating func note(
        _ d: Int, at t: Double, started: Double, reachedTarget: Bool, fallbacks: UInt8, reportedAt: Double,
        stale: Double?, isStale: Bool
    ) -> Bool {
        guard t >= started else { return false }
        if !tookAt[d].isFinite {
            // Taking the target is reporting it; a version from the inventory alone is not news.
            guard reachedTarget, reportedAt.isFinite else { return false }
            tookAt[d] = max(t, started)
            took += 1
        }
        guard !failed[d] else { return false }
        let fellBack = fallbacks > 0 && !reachedTarget
        let silent = isStale && stale.map { reportedAt - tookAt[d] < $0 } == true
        guard fellBack || silent else { return false }
        failed[d] = true
        failures += 1
        if firstFailed.count < Self.listed { firstFailed.append(d) }
        return true
    }

    /// Whether the failed share has reached the gate.
    var tripped: Bool {
        took >= abort.minDevices && took > 0 && Double(failures) >= abort.failed * Double(took)
    }

    /// What the campaign's alert says: the counts and the first failed devices.
    func evidence(names: (Int) -> String) -> [(String, JSONValue)] {
        [
            ("state", "rollout-aborted"), ("took_target", .number(Double(took))),
            ("failed", .number(Double(failures))),
            ("failed_share", .number((Double(failures) / Double(max(took, 1)) * 10000).rounded() / 10000)),
            ("abort_at", .number(abort.failed)), ("min_devices", .number(Double(abort.minDevices))),
            ("first_failed", .array(firstFailed.map { .string(names($0)) })),
        ]
    }
}
