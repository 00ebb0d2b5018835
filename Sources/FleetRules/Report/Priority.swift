/// The priority of an alert: a number where higher means "act sooner". docs/REPORT.md documents it.
///
///     priority = severity + criticality + urgency + spread      (rounded to 0.1)
///     severity:    critical 60, warning 35, info 10
///     criticality: inventory `criticality` high (or critical) 25, medium/missing/other 12, low 0
///     urgency:     0 once resolved; while open 15 × clamp(1 − timeLeft / 14 days, 0, 1), where the
///                  time left is 0 for a condition that holds now (alerts, limits, compliance) and
///                  crossing − end of data for a forecast
///     spread:      1 for each other device of the same site with the same rule open, at most 5
public enum Priority {
    /// Beyond this much time left a forecast adds no urgency.
    public static let urgencyHorizon: Double = 14 * 86400

    /// The priority of a finding, by the formula above.
    /// - Parameters:
    ///   - severity: the alert's severity.
    ///   - criticality: the device's `criticality` attribute (`high` or `critical`, `medium`, `low`).
    ///   - timeLeft: seconds before the failure: 0 when the condition holds now, nil when
    ///     the finding is resolved (no urgency).
    ///   - sameSiteOthers: other devices of the same site with the same rule open.
    public static func score(severity: AlertSeverity, criticality: String, timeLeft: Double?, sameSiteOthers: Int)
        -> Double
    {
        let s: Double =
            switch severity {
            case .critical: 60
            case .warning: 35
            case .info: 10
            }
        let total = s + criticalityPoints(criticality) + urgency(timeLeft: timeLeft) + spread(sameSiteOthers)
        return (total * 10).rounded() / 10
    }

    public static func criticalityPoints(_ criticality: String) -> Double {
        switch criticality.lowercased() {
        case "high", "critical": 25
        case "low": 0
        default: 12
        }
    }

    public static func urgency(timeLeft: Double?) -> Double {
        guard let left = timeLeft, !left.isNaN else { return 0 }
        return 15 * min(1, max(0, 1 - left / urgencyHorizon))
    }

    public static func spread(_ sameSiteOthers: Int) -> Double { Double(min(5, max(0, sameSiteOthers))) }

    /// The time left of an open episode at `now`: crossing − now for a forecast with a crossing
    /// (evidence `crossing_at`), else 0 (the condition holds now); nil once resolved.
    public static func timeLeft(_ e: AlertEpisode, now: Double) -> Double? {
        guard e.until == nil else { return nil }
        if e.kind == .forecast, let i = e.evidence.firstIndex(where: { $0.0 == "crossing_at" }),
            case .string(let text) = e.evidence[i].1, let crossing = Timestamp.parse(text)
        {
            return max(0, crossing - now)
        }
        return 0
    }
}

/// Overlapping findings about one device and one problem, grouped under the highest-priority one.
public enum AlertGrouping {
    /// What each rule is about: the metrics it reads (`metric:`…), the attribute a compliance rule
    /// tracks (`attribute:`…) and its maintenance task (`task:`…). Two findings are about the same
    /// problem when their rules share one of these.
    public static func subjects(_ plan: EvaluationPlan) -> [String: Set<String>] {
        var out: [String: Set<String>] = [:]
        for a in plan.aggregates where plan.metrics.indices.contains(a.metric) {
            for r in a.readers { out[r, default: []].insert("metric:\(plan.metrics[a.metric].name)") }
        }
        for op in plan.operators {
            let rule = op.rule
            var s = out[rule.id] ?? []
            switch rule.body {
            case .limit(let l): s.insert("metric:\(l.metric)")
            case .forecast(let f): s.insert("metric:\(f.metric)")
            case .drift(let d): s.insert("metric:\(d.metric)")
            case .compliance(let c): s.insert("attribute:\(c.attribute)")
            default: break
            }
            if let m = rule.maintenance { s.insert("task:\(m.task)") }
            out[rule.id] = s
        }
        return out
    }

    /// Takes alerts sorted by priority (highest first) and marks, for every alert that is not
    /// grouped under another, the alerts of the same device about the same problem (shared
    /// subject, see `subjects`) whose firing periods overlap its own as `related`; those get
    /// `groupedUnder`. Group-level findings (no device) are never grouped. An open episode lasts
    /// until `now`.
    public static func group(_ alerts: inout [Report.Alert], subjects: [String: Set<String>], now: Double) {
        var byDevice: [String: [Int]] = [:]
        for (i, a) in alerts.enumerated() where !a.episode.device.isEmpty {
            byDevice[a.episode.device, default: []].append(i)
        }
        for indices in byDevice.values where indices.count > 1 {
            // `indices` is in priority order because `alerts` is.
            for (n, p) in indices.enumerated() where alerts[p].groupedUnder == nil {
                for q in indices[(n + 1)...] where alerts[q].groupedUnder == nil && alerts[q].related.isEmpty {
                    let shared = !(subjects[alerts[p].episode.rule] ?? []).isDisjoint(
                        with: subjects[alerts[q].episode.rule] ?? [])
                    guard shared, overlaps(alerts[p].episode, alerts[q].episode, now: now) else { continue }
                    alerts[q].groupedUnder = Report.AlertRef(alerts[p])
                    alerts[p].related.append(Report.AlertRef(alerts[q]))
                }
            }
        }
    }

    static func overlaps(_ a: AlertEpisode, _ b: AlertEpisode, now: Double) -> Bool {
        let aEnd = a.until ?? max(now, a.since)
        let bEnd = b.until ?? max(now, b.since)
        return a.since <= bEnd && b.since <= aEnd
    }
}
