/// Groups maintenance tasks into site visits. docs/REPORT.md ("Maintenance schedule") describes it.
///
/// Days are UTC calendar days; the schedule starts on the day of `now` (the end of the data).
/// Tasks are placed earliest due first (ties: higher priority, device, task):
/// 1. a task joins the latest visit already planned at its site on a day from (due − horizon) to
///    its due day that has room;
/// 2. else it opens a visit on its due day, or, when that day's visit is full, on the latest
///    earlier day without a full visit (never after the due day);
/// 3. a task due before the schedule starts is overdue: it is planned as in 1–2 with the first
///    day as its due day and is also listed in `unmet` (reason `overdue`);
/// 4. a task with no day left is listed in `unmet` (reason `no capacity`) and not planned.
/// At most one visit per site and day. Visits are ordered by the highest priority they contain.
public enum VisitScheduler {
    public static func schedule(_ tasks: [Report.Task], now: Double, options: ScheduleOptions) -> (
        visits: [Report.Visit], unmet: [Report.Unmet]
    ) {
        let day = 86400.0
        let startDay = now.isFinite && abs(now) < 1e11 ? Int((now / day).rounded(.down)) : 0
        // A horizon past 100 years pulls as far as any schedule goes (and keeps the day count an Int).
        let horizon = options.horizon.isFinite ? min(max(0, options.horizon), 36_500 * day) : 36_500 * day
        let horizonDays = Int((horizon / day).rounded(.down))
        let capacity = max(1, options.maxTasksPerVisit)
        // Day numbers must fit an Int: a due time that is not finite or beyond ±3000 years is
        // not a schedule. Set apart before sorting (NaN has no order).
        var unmet: [Report.Unmet] = []
        let valid = tasks.filter { t in
            let ok = t.due.isFinite && abs(t.due) < 1e11
            if !ok { unmet.append(Report.Unmet(task: t, reason: "no due time", scheduled: nil)) }
            return ok
        }
        let ordered = valid.sorted { a, b in
            if a.due != b.due { return a.due < b.due }
            if a.priority != b.priority { return a.priority > b.priority }
            if a.device != b.device { return a.device < b.device }
            return (a.task, a.rule) < (b.task, b.rule)
        }
        var visits: [String: [Int: [Report.Task]]] = [:]  // site → day → tasks
        for var task in ordered {
            let dueDay = Int((task.due / day).rounded(.down))
            let overdue = dueDay < startDay
            let lastDay = max(dueDay, startDay)
            task.late = overdue
            var siteVisits = visits[task.site] ?? [:]
            var chosen: Int?
            // 1. Join a planned visit within the horizon, as late as possible.
            let earliestJoin = max(startDay, lastDay - horizonDays)
            for d in stride(from: lastDay, through: earliestJoin, by: -1) {
                if let v = siteVisits[d], v.count < capacity {
                    chosen = d
                    break
                }
            }
            // 2. Open a visit on the latest day up to the due day that is not full.
            if chosen == nil {
                for d in stride(from: lastDay, through: startDay, by: -1) where (siteVisits[d]?.count ?? 0) < capacity {
                    chosen = d
                    break
                }
            }
            guard let d = chosen else {
                unmet.append(Report.Unmet(task: task, reason: "no capacity", scheduled: nil))
                continue
            }
            siteVisits[d, default: []].append(task)
            visits[task.site] = siteVisits
            if overdue { unmet.append(Report.Unmet(task: task, reason: "overdue", scheduled: date(d))) }
        }
        var out: [Report.Visit] = []
        for (site, days) in visits {
            for (d, tasks) in days {
                let sorted = tasks.sorted { a, b in
                    if a.priority != b.priority { return a.priority > b.priority }
                    if a.due != b.due { return a.due < b.due }
                    return (a.device, a.task, a.rule) < (b.device, b.task, b.rule)
                }
                out.append(Report.Visit(site: site, date: date(d), tasks: sorted))
            }
        }
        out.sort { a, b in
            if a.priority != b.priority { return a.priority > b.priority }
            if a.date != b.date { return a.date < b.date }
            return a.site < b.site
        }
        unmet.sort { a, b in
            if a.task.due.isNaN != b.task.due.isNaN { return b.task.due.isNaN }
            if !a.task.due.isNaN, !b.task.due.isNaN, a.task.due != b.task.due { return a.task.due < b.task.due }
            return (a.task.site, a.task.device, a.task.task) < (b.task.site, b.task.device, b.task.task)
        }
        return (out, unmet)
    }

    /// `YYYY-MM-DD` of a UTC day number.
    static func date(_ day: Int) -> String { String(Timestamp.format(Double(day) * 86400).prefix(10)) }

    /// One task per device and task name from the open alerts with `maintenance`: the earliest
    /// due, the highest priority (its rule), the parts of all. A firing alert's task is due now
    /// unless the rule set a due time (forecasts: crossing − lead).
    public static func tasks(from alerts: [Report.Alert], now: Double) -> [Report.Task] {
        var merged: [String: Report.Task] = [:]
        var order: [String] = []
        for a in alerts where a.episode.until == nil {
            guard let m = a.episode.maintenance else { continue }
            let due = (a.episode.due ?? now).rounded(.down)
            let key = "\(a.site)\u{1F}\(a.episode.device)\u{1F}\(m.task)"
            let task = Report.Task(
                device: a.episode.device, site: a.site, zone: a.zone, task: m.task, due: due, rule: a.episode.rule,
                parts: m.parts, priority: a.priority)
            guard var existing = merged[key] else {
                merged[key] = task
                order.append(key)
                continue
            }
            existing.due = min(existing.due, due)
            if task.priority > existing.priority || (task.priority == existing.priority && task.rule < existing.rule) {
                existing.priority = task.priority
                existing.rule = task.rule
            }
            for p in task.parts where !existing.parts.contains(p) { existing.parts.append(p) }
            merged[key] = existing
        }
        return order.compactMap { merged[$0] }
    }
}
