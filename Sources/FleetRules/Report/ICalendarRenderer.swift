/// The maintenance schedule as an iCalendar file (RFC 5545): one all-day VEVENT per site visit
/// with its task list. Deterministic: UIDs come from site and date, DTSTAMP is the end of the data.
public enum ICalendarRenderer {
    public static func render(_ r: Report) -> String {
        let stamp = compact(r.to ?? 0)
        var lines = [
            "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//FleetRules//Maintenance schedule//EN", "CALSCALE:GREGORIAN",
            "METHOD:PUBLISH", "X-WR-CALNAME:" + escape("FleetRules maintenance \(r.packs.joined(separator: ","))"),
        ]
        for v in r.maintenance {
            guard let day = Timestamp.parse(v.date + "T00:00:00Z") else { continue }
            let task = Set(v.tasks.map(\.task)).sorted().joined(separator: ", ")
            var description = "Priority \(Engine.format(v.priority)). Tasks, highest priority first:"
            for t in v.tasks {
                description +=
                    "\n- \(t.device)\(t.zone.isEmpty ? "" : " (\(t.zone))"): \(t.task), due \(Timestamp.format(t.due))"
                description += "\(t.late ? " (LATE)" : ""), rule \(t.rule), priority \(Engine.format(t.priority))"
                if !t.parts.isEmpty { description += ", bring \(t.parts.joined(separator: ", "))" }
            }
            let parts = Set(v.tasks.flatMap(\.parts)).sorted()
            if !parts.isEmpty { description += "\nParts: \(parts.joined(separator: ", "))" }
            lines += [
                "BEGIN:VEVENT",
                "UID:" + escape("visit-\(v.site)-\(v.date)@fleetrules"),
                "DTSTAMP:\(stamp)",
                "DTSTART;VALUE=DATE:\(v.date.replacingOccurrences(of: "-", with: ""))",
                "DTEND;VALUE=DATE:\(String(Timestamp.format(day + 86400).prefix(10)).replacingOccurrences(of: "-", with: ""))",
                "SUMMARY:" + escape("\(v.site): \(v.tasks.count) task\(v.tasks.count == 1 ? "" : "s") (\(task))"),
                "LOCATION:" + escape(v.site),
                "PRIORITY:\(icalPriority(v.priority))",
                "CATEGORIES:MAINTENANCE",
                "TRANSP:TRANSPARENT",
                "DESCRIPTION:" + escape(description),
                "END:VEVENT",
            ]
        }
        lines.append("END:VCALENDAR")
        return lines.map(fold).joined()
    }

    /// RFC 5545 PRIORITY (1 highest … 9 lowest) from the visit's priority score.
    static func icalPriority(_ p: Double) -> Int {
        switch p {
        case 80...: 1
        case 60..<80: 3
        case 40..<60: 5
        default: 9
        }
    }

    /// `YYYYMMDDTHHMMSSZ`.
    static func compact(_ t: Double) -> String {
        Timestamp.format(t.rounded(.down)).replacingOccurrences(of: "-", with: "").replacingOccurrences(
            of: ":", with: "")
    }

    /// TEXT escaping (RFC 5545 §3.3.11).
    static func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "\\": out += "\\\\"
            case ";": out += "\\;"
            case ",": out += "\\,"
            case "\n": out += "\\n"
            case "\r": break
            default: out.append(c)
            }
        }
        return out
    }

    /// Folds a content line at 75 octets without splitting a UTF-8 sequence; CRLF line ends.
    static func fold(_ line: String) -> String {
        var out = ""
        var octets = 0
        for scalar in line.unicodeScalars {
            let n = String(scalar).utf8.count
            if octets + n > 75 {
                out += "\r\n "
                octets = 1
            }
            out.unicodeScalars.append(scalar)
            octets += n
        }
        return out + "\r\n"
    }
}
