import FleetRules
import Metrics

/// The service's metrics, through swift-metrics (exported by swift-prometheus at `/metrics`).
struct ServerMetrics: Sendable {
    let ingested = Counter(label: "fleetrules_readings_ingested_total")
    let rejected: [RejectReason: Counter] = Dictionary(
        uniqueKeysWithValues: RejectReason.allCases.map {
            ($0, Counter(label: "fleetrules_readings_rejected_total", dimensions: [("reason", $0.rawValue)]))
        })
    /// Time the engine spends on one request's readings (decode, evaluate, alerts).
    let evaluation = Metrics.Timer(label: "fleetrules_evaluation_duration_seconds", preferredDisplayUnit: .seconds)
    let firing: [AlertSeverity: Gauge] = Dictionary(
        uniqueKeysWithValues: AlertSeverity.allCases.map {
            ($0, Gauge(label: "fleetrules_alerts_firing", dimensions: [("severity", $0.rawValue)]))
        })
    /// Notifications in the delivery outbox not yet delivered (`serve --deliver`).
    let outboxDepth = Gauge(label: "fleetrules_outbox_depth")
    let reloadsOK = Counter(label: "fleetrules_rule_reloads_total", dimensions: [("result", "ok")])
    let reloadsFailed = Counter(label: "fleetrules_rule_reloads_total", dimensions: [("result", "rejected")])

    func record(_ summary: TelemetryBody.Summary, firing counts: [AlertSeverity: Int]) {
        if summary.accepted > 0 { ingested.increment(by: summary.accepted) }
        for (reason, n) in summary.rejected { rejected[reason]?.increment(by: n) }
        setFiring(counts)
    }

    func setFiring(_ counts: [AlertSeverity: Int]) {
        for (severity, gauge) in firing { gauge.record(counts[severity] ?? 0) }
    }

    func reloads(ok: Bool) { (ok ? reloadsOK : reloadsFailed).increment() }
}
