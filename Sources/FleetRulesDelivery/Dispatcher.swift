import AsyncHTTPClient
import FleetRules
import Foundation

/// Delivers what the outbox holds: sends due messages (a few at a time), retries with backoff,
/// dead-letters after the retry budget, paces SMS per contact, reads ACK replies from the SMS
/// gateways and stops escalations they answer. Every state change is written before the next
/// send, so a process killed at any point resumes where it stood: at least once, never lost.
public struct Dispatcher: Sendable {
    public let config: DeliveryConfig
    public let outbox: Outbox
    public var concurrency = 8
    public var webhook = WebhookSink()
    public var sms = SMSSink()
    public var alertmanager = AlertmanagerSink()
    /// Run-time silences and acknowledgements: a due message all of whose alerts they cover is
    /// cancelled instead of sent; an SMS ACK acknowledges the alerts of its page.
    public var controls: DeliveryControls?
    /// Called after each send (id, outcome); for progress output.
    public var onSend: (@Sendable (OutboxMessage, SendOutcome) -> Void)?

    public init(config: DeliveryConfig, outbox: Outbox) {
        self.config = config
        self.outbox = outbox
    }

    public struct Summary: Sendable {
        public var attempts = 0
        public var delivered = 0
        public var retried = 0
        public var dead = 0
        public var acknowledged = 0
        public var seconds = 0.0
        /// Time spent in send rounds (not waiting for backoff or escalation timers).
        public var sendingSeconds = 0.0
        /// True when messages were still pending at the deadline.
        public var pendingLeft = false
    }

    /// Runs until nothing is pending or `deadline` (wall clock) passes.
    public func run(until deadline: Double) async throws -> Summary {
        var summary = Summary()
        let started = Date().timeIntervalSince1970
        let backoff = Backoff(initial: config.outbox.initialBackoff, maximum: config.outbox.maxBackoff)
        while true {
            let now = Date().timeIntervalSince1970
            if now >= deadline {
                summary.pendingLeft = try outbox.nextDue() != nil
                break
            }
            summary.acknowledged += try await pollReplies()
            let due = try withoutSuppressed(
                try inGroupOrder(try pace(try outbox.due(now: now, limit: 64), now: now), now: now), now: now)
            if due.isEmpty {
                guard let next = try outbox.nextDue() else { break }
                // Nothing can fall due before the deadline (a deferred SMS, a long backoff).
                if next >= deadline {
                    summary.pendingLeft = true
                    break
                }
                let wait = max(0.01, min(max(0, next - now), 0.25, max(0, deadline - now)))
                try await Task.sleep(nanoseconds: UInt64(wait * 1e9))
                continue
            }
            let roundStart = Date().timeIntervalSince1970
            let results = await withTaskGroup(of: (OutboxMessage, SendOutcome).self) { group in
                var results: [(OutboxMessage, SendOutcome)] = []
                var iterator = due.makeIterator()
                var running = 0
                while running < concurrency, let m = iterator.next() {
                    group.addTask { (m, await self.attempt(m)) }
                    running += 1
                }
                while let r = await group.next() {
                    results.append(r)
                    if let m = iterator.next() { group.addTask { (m, await self.attempt(m)) } }
                }
                return results
            }
            let after = Date().timeIntervalSince1970
            var records: [(OutboxMessage, Outbox.Resolution)] = []
            for (m, result) in results {
                summary.attempts += 1
                onSend?(m, result)
                switch result {
                case .delivered:
                    records.append((m, .delivered))
                    summary.delivered += 1
                case .retry(let reason, let retryAfter):
                    if m.attempts + 1 >= config.outbox.maxAttempts {
                        records.append((m, .dead(error: "\(reason); gave up after \(m.attempts + 1) attempts")))
                        summary.dead += 1
                    } else {
                        let delay = retryAfter ?? backoff.delay(afterAttempt: m.attempts + 1)
                        records.append((m, .retry(at: after + delay, error: reason)))
                        summary.retried += 1
                    }
                case .refused(let reason):
                    records.append((m, .dead(error: "\(reason) (not retried)")))
                    summary.dead += 1
                }
            }
            try outbox.record(records, at: after)
            summary.sendingSeconds += Date().timeIntervalSince1970 - roundStart
        }
        summary.seconds = Date().timeIntervalSince1970 - started
        return summary
    }

    /// The per-contact SMS budget: of the due messages, each phone gets at most what is left of
    /// its `max_per_hour` (counting deliveries of the last hour); the rest of an exhausted
    /// contact is deferred, without spending an attempt, until the oldest of those is an hour old.
    func pace(_ due: [OutboxMessage], now: Double) throws -> [OutboxMessage] {
        var budget: [String: Int] = [:]
        var out: [OutboxMessage] = []
        for m in due {
            guard m.channel == .sms, case .sms(let s)? = config.receiver(named: m.receiver)?.channel else {
                out.append(m)
                continue
            }
            if budget[m.target] == nil {
                let (count, oldest) = try outbox.deliveredCount(to: m.target, since: now - 3600)
                budget[m.target] = s.maxPerHour - count
                if count >= s.maxPerHour {
                    // Everything due for this phone waits for the budget.
                    for d in due where d.target == m.target && d.channel == .sms {
                        try outbox.deferMessage(d, until: (oldest ?? now) + 3600)
                    }
                }
            }
            if let b = budget[m.target], b > 0 {
                budget[m.target] = b - 1
                out.append(m)
            }
        }
        return out
    }

    /// Cancels the due messages every alert of which a silence or an acknowledgement covers
    /// now (an SMS page with all its later steps) and returns the others.
    func withoutSuppressed(_ due: [OutboxMessage], now: Double) throws -> [OutboxMessage] {
        guard let controls else { return due }
        var out: [OutboxMessage] = []
        for m in due {
            guard !m.alerts.isEmpty else {
                out.append(m)
                continue
            }
            let reasons = m.alerts.map {
                controls.suppression(alertID: $0.id, labels: $0.labels, status: $0.status, at: now)
            }
            guard reasons.allSatisfy({ $0 != nil }) else {
                out.append(m)
                continue
            }
            var silences: Set<String> = []
            var ackers: Set<String> = []
            for r in reasons {
                switch r {
                case .silenced(let ids)?: silences.formUnion(ids)
                case .acknowledged(let a)?: ackers.insert(a.by)
                case nil: break
                }
            }
            var why: [String] = []
            if !silences.isEmpty { why.append("silenced by \(silences.sorted().joined(separator: ", "))") }
            if !ackers.isEmpty { why.append("acknowledged by \(ackers.sorted().joined(separator: ", "))") }
            let reason = why.joined(separator: "; ")
            if m.channel == .sms, let page = m.page {
                try outbox.cancel(page: page, reason: reason)
            } else {
                try outbox.cancel(m.id, reason: reason)
            }
        }
        return out
    }

    /// One send.
    func attempt(_ m: OutboxMessage) async -> SendOutcome {
        guard let receiver = config.receiver(named: m.receiver) else {
            return .refused(reason: "receiver '\(m.receiver)' is no longer configured")
        }
        switch receiver.channel {
        case .webhook(let w):
            return await webhook.send(m, secret: w.secret, timeout: w.timeout)
        case .sms(let s):
            return await sms.send(m, gateway: s.gateway)
        case .alertmanager(let a):
            return await alertmanager.send(m, timeout: a.timeout)
        case .mqtt(let q):
            return await MQTTSink().send(m, mqtt: q)
        }
    }

    /// Reads new replies from every SMS gateway; an "ACK code" stops that page's escalation.
    func pollReplies() async throws -> Int {
        var acked = 0
        var seen: Set<String> = []
        for r in config.receivers {
            guard case .sms(let s) = r.channel, !seen.contains(s.gateway) else { continue }
            seen.insert(s.gateway)
            let cursorName = "inbound:\(s.gateway)"
            let cursor = try outbox.cursor(cursorName)
            guard let replies = try? await sms.inbound(gateway: s.gateway, after: cursor), !replies.isEmpty else {
                continue
            }
            for reply in replies {
                if let code = SMSSink.ackCode(in: reply.text),
                    let page = try outbox.acknowledge(code: code, from: reply.from)
                {
                    acked += 1
                    // The page's alerts are acknowledged: no repeats, in every channel.
                    let now = Date().timeIntervalSince1970
                    for a in try outbox.alerts(ofPage: page) where a.status == .firing {
                        try controls?.acknowledge(
                            Acknowledgement(alertID: a.id, by: reply.from, comment: "SMS ACK \(code)", at: now))
                    }
                }
            }
            try outbox.setCursor(cursorName, replies.map(\.seq).max() ?? cursor)
        }
        return acked
    }
}
