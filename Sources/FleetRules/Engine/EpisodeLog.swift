/// Every alert episode the engine opened, in the order opened, and the changes not yet drained
/// (`Engine.drainAlerts`). An episode's index in `episodes` is its id for the parts that close
/// or revise it.
struct EpisodeLog: Sendable {
    private(set) var episodes: [AlertEpisode] = []
    private var pending: [AlertEvent] = []

    /// Opens an episode that started firing at `since`; returns its index.
    mutating func open(_ episode: AlertEpisode, at since: Double) -> Int32 {
        let index = Int32(episodes.count)
        episodes.append(episode)
        pending.append(AlertEvent(change: .fired, time: since, episode: episode))
        return index
    }

    /// Closes episode `e` at `t`.
    mutating func resolve(_ e: Int, at t: Double) {
        episodes[e].until = t
        pending.append(AlertEvent(change: .resolved, time: t, episode: episodes[e]))
    }

    /// Revises an open episode's finding; a change of severity is an `updated` event at `t`.
    mutating func revise(
        _ e: Int, severity: AlertSeverity, value: Double?, summary: String, evidence: [(String, JSONValue)],
        maintenance: MaintenanceSpec?, due: Double?, at t: Double
    ) {
        let escalated = severity != episodes[e].severity
        episodes[e].severity = severity
        episodes[e].value = value
        episodes[e].summary = summary
        episodes[e].evidence = evidence
        episodes[e].maintenance = maintenance ?? episodes[e].maintenance
        episodes[e].due = due ?? episodes[e].due
        if escalated { pending.append(AlertEvent(change: .updated, time: t, episode: episodes[e])) }
    }

    /// Marks open episode `e` inhibited by a firing group: an `updated` event at `t`, which
    /// delivery drops like the inhibited alerts it never sent.
    mutating func inhibit(_ e: Int, by inhibition: AlertInhibition, at t: Double) {
        guard episodes[e].until == nil, episodes[e].inhibitedBy == nil else { return }
        episodes[e].inhibitedBy = inhibition
        pending.append(AlertEvent(change: .updated, time: t, episode: episodes[e]))
    }

    /// An open episode of an alert with levels changes severity at `t`: an `updated` event, and
    /// the change in its evidence (`severity_changes`).
    mutating func changeSeverity(_ e: Int, to severity: AlertSeverity, value: Double?, summary: String, at t: Double) {
        let change = JSONValue.object([
            ("time", .string(Timestamp.format(t))), ("from", .string(episodes[e].severity.rawValue)),
            ("to", .string(severity.rawValue)),
        ])
        episodes[e].severity = severity
        episodes[e].value = value
        episodes[e].summary = summary
        if let i = episodes[e].evidence.firstIndex(where: { $0.0 == "severity_changes" }),
            case .array(let list) = episodes[e].evidence[i].1
        {
            episodes[e].evidence[i].1 = .array(list + [change])
        } else {
            episodes[e].evidence.append(("severity_changes", .array([change])))
        }
        pending.append(AlertEvent(change: .updated, time: t, episode: episodes[e]))
    }

    /// The changes since the last call.
    mutating func drain() -> [AlertEvent] {
        defer { pending.removeAll() }
        return pending
    }
}
