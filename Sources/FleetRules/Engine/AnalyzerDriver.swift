/// What analyzers see of the engine at a tick or at the end: the fleet's attributes, gateways,
/// which devices reported and the rules' scope flags. Built by the engine when ticks are due.
struct AnalysisInputs {
    let plan: EvaluationPlan
    let inventory: Inventory
    let attributes: [[String]]
    let attributeSlots: [String: Int]
    let gatewayNames: [String]
    let deviceGateway: [Int32]
    let seen: [Bool]
    let applies: [Bool]
    let operatorCount: Int
    /// The metrics' history and the lowered program, for analyses that evaluate per-device
    /// expressions at a tick (group rules).
    let metrics: MetricStore
    let program: EngineProgram
    /// How many times telemetry has changed a device attribute so far.
    let attributeChanges: Int

    func context(operator o: Int, at t: Double) -> AnalysisContext {
        AnalysisContext(inputs: self, operatorIndex: o, now: t)
    }
}

/// Drives the fleet-level analyses (forecast, drift, correlation, balance) in event time: feeds
/// each the readings of its metrics (of the devices its rule applies to), ticks each at its
/// boundaries in time order, and turns their findings into episodes, one open episode per
/// (rule, finding key).
struct AnalyzerDriver: Sendable {
    private(set) var analyzers = AnalyzerSet()
    /// The analyzers reading each metric, flattened for the ingest loop: metric m's are
    /// `flat[start[m]..<start[m + 1]]`.
    private var flat: [Int] = []
    private var start: [Int] = []
    private var byMetric: [[Int]]
    /// Analyzers wanting every reading's gateway.
    private var readingAnalyzers: [Int] = []
    /// Every analyzer a reading may feed, whatever its metrics: what `prefetch` asks the cache
    /// for (reading the queued reading's metrics first would itself be a cache miss).
    private var prefetched: [Int] = []
    /// Per analyzer, the operator whose scope flags it observes, or -1 when it observes every device.
    private var scope: [Int] = []
    private var nextTickOf: [Double] = []
    /// The earliest boundary any analyzer ticks at.
    private(set) var nextTick = Double.infinity
    /// Analyzers tick no later than this: the fleet's time at the end of the data, once `finish`
    /// has fixed it, so readings from a clock ahead evaluated after it do not move their end.
    private(set) var end = Double.infinity
    /// Open analyzer findings: "operator␟key" → episode index.
    private var open: [String: Int] = [:]
    /// Group rules' inhibition (`inhibits:`): per inhibited operator, the group operators that
    /// inhibit it; per group operator, each device's firing group episode (-1: none) and the
    /// members each open group episode holds.
    private var inhibitors: [Int: [Int]] = [:]
    private var inhibitingEpisode: [Int: [Int32]] = [:]
    private var inhibitedMembers: [Int: [Int]] = [:]
    /// Whether any group rule inhibits device alerts.
    private(set) var inhibitsAny = false

    init(metrics: Int) {
        byMetric = Array(repeating: [], count: metrics)
    }

    var isEmpty: Bool { analyzers.isEmpty }

    /// Adds the analyzer of operator `o`; call `seal` after the last.
    /// Registers group operator `o` as inhibiting the operators of rules `ids`, for `devices`.
    mutating func addInhibition(operator o: Int, inhibits ids: [String], plan: EvaluationPlan, devices: Int) {
        let targets = ids.compactMap { id in plan.operators.firstIndex { $0.rule.id == id } }
        guard !targets.isEmpty else { return }
        for t in targets { inhibitors[t, default: []].append(o) }
        inhibitingEpisode[o] = Array(repeating: -1, count: devices)
        inhibitsAny = true
    }

    /// The firing group that inhibits operator `o`'s alert for device `d`, if any.
    func inhibition(op o: Int, device d: Int, log: EpisodeLog) -> AlertInhibition? {
        guard let groups = inhibitors[o] else { return nil }
        for g in groups {
            guard let e = inhibitingEpisode[g]?[d], e >= 0 else { continue }
            let episode = log.episodes[Int(e)]
            let group = episode.evidence.first { $0.0 == "group" }.map { v -> String in
                if case .string(let s) = v.1 { return s }
                return ""
            }
            return AlertInhibition(rule: episode.rule, group: group ?? "")
        }
        return nil
    }

    /// Records which devices a group finding of operator `o` (episode `e`, nil: resolved) holds,
    /// and marks the open alerts of the rules it inhibits for its members.
    private mutating func inhibit(
        operator o: Int, episode e: Int, members: [Int]?, _ inputs: AnalysisInputs, log: inout EpisodeLog, now: Double
    ) {
        guard var flags = inhibitingEpisode[o] else { return }
        inhibitingEpisode[o] = nil
        for d in inhibitedMembers[e] ?? [] where flags[d] == Int32(e) { flags[d] = -1 }
        let fresh = (members ?? []).filter { flags[$0] != Int32(e) }
        for d in members ?? [] { flags[d] = Int32(e) }
        inhibitedMembers[e] = members
        inhibitingEpisode[o] = flags
        guard !fresh.isEmpty, members != nil else { return }
        let group = log.episodes[e].evidence.first { $0.0 == "group" }.map { v -> String in
            if case .string(let s) = v.1 { return s }
            return ""
        }
        let inhibition = AlertInhibition(rule: log.episodes[e].rule, group: group ?? "")
        let targets = Set(inhibitors.filter { $0.value.contains(o) }.map { inputs.plan.operators[$0.key].rule.id })
        let newMembers = Set(fresh)
        for i in log.episodes.indices where log.episodes[i].until == nil && targets.contains(log.episodes[i].rule) {
            guard let d = inputs.inventory.deviceIndex[log.episodes[i].device], newMembers.contains(d) else { continue }
            log.inhibit(i, by: inhibition, at: now)
        }
    }

    mutating func add(_ analyzer: any Analyzer, operator o: Int) {
        let a = analyzers.count
        for m in analyzer.metrics where m >= 0 && m < byMetric.count { byMetric[m].append(a) }
        if analyzer.wantsReadings { readingAnalyzers.append(a) }
        nextTickOf.append(analyzer.tickInterval > 0 ? -.infinity : .infinity)
        scope.append(analyzer.observesApplicableOnly ? o : -1)
        analyzers.append(analyzer)
    }

    mutating func seal() {
        start = [0]
        for list in byMetric {
            flat += list
            start.append(flat.count)
        }
        byMetric = []
        prefetched = Array(Set(readingAnalyzers + flat)).sorted()
        // Ticking analyzers start at the first reading (their first boundary is placed then).
        nextTick = nextTickOf.min() ?? .infinity
    }

    mutating func setForecastHistory(_ on: Bool) { analyzers.setForecastHistory(on) }

    @inline(__always)
    mutating func prefetch(device d: Int) {
        for a in prefetched { analyzers.prefetch(a, device: d) }
    }

    /// Feeds a reading's values (`count` pairs from `base` in the pools) to the analyzers of
    /// their metrics; `applies` and `opCount` are the engine's scope flags and their stride.
    mutating func feed(
        device d: Int, time t: Double, gateway: Int32, metrics: [Int32], values: [Double], base: Int, count: Int,
        applies: [Bool], opCount: Int
    ) {
        for a in readingAnalyzers where scope[a] < 0 || applies[d * opCount + scope[a]] {
            analyzers.observeReading(a, device: d, time: t, gateway: gateway)
        }
        for i in 0..<count {
            let m = Int(metrics[base + i])
            var j = start[m]
            while j < start[m + 1] {
                let a = flat[j]
                j += 1
                if scope[a] >= 0, !applies[d * opCount + scope[a]] { continue }
                analyzers.observe(a, device: d, metric: m, value: values[base + i], time: t)
            }
        }
    }

    /// Ticks every analyzer at each of its boundaries up to and including `t`, in time order.
    /// `now` is the engine's evaluation time, the time of `updated` events.
    mutating func runTicks(upTo t: Double, _ inputs: AnalysisInputs, log: inout EpisodeLog, now: Double) {
        while true {
            var best = -1
            var bestTime = Double.infinity
            for a in analyzers.indices {
                let interval = analyzers.tickInterval[a]
                guard interval > 0 else { continue }
                if nextTickOf[a] == -.infinity {
                    // The first boundary after the first event: no tick for an empty past.
                    nextTickOf[a] = ((t / interval).rounded(.down) + 1) * interval
                    if t == nextTickOf[a] - interval { nextTickOf[a] = t }
                }
                if nextTickOf[a] <= t, nextTickOf[a] < bestTime {
                    best = a
                    bestTime = nextTickOf[a]
                }
            }
            guard best >= 0 else { break }
            nextTickOf[best] = bestTime + analyzers.tickInterval[best]
            var sink = FindingSink()
            analyzers.tick(
                best, at: bestTime, inputs.context(operator: analyzers.operatorIndex[best], at: bestTime), &sink)
            apply(sink, analyzer: best, inputs, log: &log, now: now)
        }
        nextTick = nextTickOf.min() ?? .infinity
    }

    /// Fixes the end of the data: no tick after it.
    mutating func fixEnd(at fleetEnd: Double) { end = fleetEnd }

    /// The last ticks up to the end of the data, then each analyzer's final findings.
    mutating func finish(_ inputs: AnalysisInputs, log: inout EpisodeLog, now: Double) {
        guard !analyzers.isEmpty else { return }
        runTicks(upTo: end, inputs, log: &log, now: now)
        for a in analyzers.indices {
            var sink = FindingSink()
            analyzers.finish(a, at: end, inputs.context(operator: analyzers.operatorIndex[a], at: end), &sink)
            apply(sink, analyzer: a, inputs, log: &log, now: now)
        }
    }

    /// Turns an analyzer's findings into episodes: one open episode per (rule, key).
    private mutating func apply(
        _ sink: FindingSink, analyzer a: Int, _ inputs: AnalysisInputs, log: inout EpisodeLog, now: Double
    ) {
        let o = analyzers.operatorIndex[a]
        let rule = inputs.plan.operators[o].rule
        for change in sink.changes {
            switch change {
            case .report(let f):
                let key = "\(o)\u{1F}\(f.key)"
                if let e = open[key] {
                    log.revise(
                        e, severity: f.severity, value: f.value, summary: f.summary, evidence: f.evidence,
                        maintenance: f.maintenance, due: f.due, at: now)
                    if f.members != nil {
                        inhibit(operator: o, episode: e, members: f.members, inputs, log: &log, now: now)
                    }
                    continue
                }
                var labels = rule.labels
                for (k, v) in f.labels { labels[k] = v }
                let episode = AlertEpisode(
                    rule: rule.id, kind: rule.kind, pack: rule.pack,
                    device: f.device >= 0 ? inputs.inventory.rows[f.device][0] : "", severity: f.severity,
                    since: f.since,
                    until: nil, value: f.value, summary: f.summary, labels: labels, evidence: f.evidence,
                    maintenance: f.maintenance, site: f.site, due: f.due)
                let e = Int(log.open(episode, at: f.since))
                open[key] = e
                if f.members != nil {
                    inhibit(operator: o, episode: e, members: f.members, inputs, log: &log, now: now)
                }
            case .resolve(let k, let t):
                guard let e = open.removeValue(forKey: "\(o)\u{1F}\(k)") else { continue }
                log.resolve(e, at: t)
                if inhibitingEpisode[o] != nil {
                    inhibit(operator: o, episode: e, members: nil, inputs, log: &log, now: t)
                }
            }
        }
    }

    /// Every analyzer's sections for the report, in order, at the end of the data (`end`, or
    /// `fallback` before `finish`), and the learned forecast curves.
    func sections(_ inputs: AnalysisInputs, fallback: Double) -> AnalysisSections {
        let t = end.isFinite ? end : fallback
        var all = AnalysisSections()
        for a in analyzers.indices {
            all.append(analyzers.sections(a, inputs.context(operator: analyzers.operatorIndex[a], at: t)))
        }
        all.forecastCurves = analyzers.forecastCurves()
        return all
    }
}
