/// The priority of an alert: a number where higher means "act sooner". docs/REPORT.md documents it.
///
///     priority = severity + criticality + ongoing + spread
///     severity:    critical 60, warning 35, info 10
///     criticality: inventory `criticality` high 25, medium 12, low 0, missing or other 12
///     ongoing:     10 while the alert is still firing at the end of the data, else 0
///     spread:      up to 5: 0.5 for each other device of the same site with the same rule firing
public enum Priority {
    public static func score(severity: AlertSeverity, criticality: String, ongoing: Bool, sameSiteOthers: Int) -> Double {
        let s: Double =
            switch severity {
            case .critical: 60
            case .warning: 35
            case .info: 10
            }
        let c: Double =
            switch criticality.lowercased() {
            case "high", "critical": 25
            case "low": 0
            default: 12
            }
        let spread = min(5, 0.5 * Double(max(0, sameSiteOthers)))
        return s + c + (ongoing ? 10 : 0) + spread
    }
}
