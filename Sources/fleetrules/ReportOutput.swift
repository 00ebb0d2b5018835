import ArgumentParser
import FleetRules
import Foundation

/// The formats `run` and `report` write, and writing them to stdout, a file or (CSV) a folder.
enum ReportFormat: String, ExpressibleByArgument, CaseIterable {
    case json, table, csv, ical, html

    func render(_ report: Report) -> String {
        switch self {
        case .json: report.json().serialized(pretty: true) + "\n"
        case .table: TableRenderer.render(report)
        case .csv: CSVRenderer.render(report)
        case .ical: ICalendarRenderer.render(report)
        case .html: HTMLRenderer.render(report)
        }
    }

    /// Writes the report; `out` ending in `/` or naming a folder takes one CSV file per part.
    /// Returns false (after an error message) when the file cannot be written.
    static func write(_ report: Report, as format: ReportFormat, to out: String?) -> Bool {
        guard let out else {
            print(format.render(report), terminator: "")
            return true
        }
        var isDirectory: ObjCBool = false
        let folder =
            out.hasSuffix("/")
            || (FileManager.default.fileExists(atPath: out, isDirectory: &isDirectory) && isDirectory.boolValue)
        do {
            if format == .csv && folder {
                try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
                for part in CSVRenderer.parts(report) {
                    let path = (out as NSString).appendingPathComponent("\(part.name).csv")
                    try part.csv.write(toFile: path, atomically: true, encoding: .utf8)
                }
            } else {
                try format.render(report).write(toFile: out, atomically: true, encoding: .utf8)
            }
        } catch {
            FileHandle.standardError.write(Data("error: cannot write \(out): \(error.localizedDescription)\n".utf8))
            return false
        }
        return true
    }
}

/// `--horizon` and `--max-tasks-per-visit`: override the pack's `schedule:` section.
struct ScheduleFlags: ParsableArguments {
    @Option(
        help:
            "How much earlier than its due time a task may be pulled to join a planned visit, e.g. 3d (default: the pack's schedule, else 3d)."
    )
    var horizon: String?

    @Option(help: "The most tasks one site visit takes (default: the pack's schedule, else 8).")
    var maxTasksPerVisit: Int?

    func validate() throws {
        if let horizon, DurationText.seconds(horizon) == nil || (DurationText.seconds(horizon) ?? -1) < 0 {
            throw ValidationError("--horizon must be a duration such as 3d")
        }
        if let m = maxTasksPerVisit, m < 1 { throw ValidationError("--max-tasks-per-visit must be at least 1") }
    }

    /// The options to use: the flags over the pack's section over the defaults; nil when no flag is given.
    func options(policy: ScheduleOptions?) -> ScheduleOptions? {
        guard horizon != nil || maxTasksPerVisit != nil else { return nil }
        var o = policy ?? ScheduleOptions()
        if let h = horizon.flatMap(DurationText.seconds) { o.horizon = h }
        if let m = maxTasksPerVisit { o.maxTasksPerVisit = m }
        return o
    }
}

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Render a saved JSON report (from `run --format json`) as a table, CSV, iCalendar or HTML.",
        discussion: """
            Reads the report without re-running the rules. --format csv with --out DIR/ writes one
            file per report part.

            Example:
              fleetrules report report.json --format html --out report.html
            """
    )

    @Argument(help: "A report written by `fleetrules run` (JSON, format 1); - reads stdin.")
    var path: String

    @Option(help: "Output format: table, json, csv, ical or html.")
    var format: ReportFormat = .table

    @Option(help: "Write here instead of stdout (for csv: a folder ending in / takes one file per part).")
    var out: String?

    func run() throws {
        let data: Data?
        if path == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            data = FileManager.default.contents(atPath: path)
        }
        guard let data else { Self.failUsage("\(path): cannot read the file") }
        let report: Report
        do {
            report = try Report.decode(json: String(decoding: data, as: UTF8.self))
        } catch {
            FileHandle.standardError.write(Data("error: \(path): \(error)\n".utf8))
            throw ExitCode(1)
        }
        guard ReportFormat.write(report, as: format, to: out) else { throw ExitCode(1) }
        if let out { FileHandle.standardError.write(Data("wrote \(out)\n".utf8)) }
    }
}
