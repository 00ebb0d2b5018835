import ArgumentParser
import FleetRules
import Foundation

struct ScoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Compare a run's report with a simulated fleet's truth, per analysis.",
        discussion: """
            Prints per analysis: battery forecasts (share within ±10% at 30, 14, 7 and 3 days
            before the crossing; false alarms), drift (detection rate, false-positive rate,
            median delay), firmware (precision and recall per state), gateway (imbalanced sites
            found, balance after the proposed moves) and environmental excursions found.
            docs/SIMULATOR.md ("Scores") defines every number. An analysis the report does not
            carry is shown as "not in report". Exit code 0 when scored (whatever the scores),
            1 for malformed input files, 2 for usage errors.

            Example:
              fleetrules score --truth /tmp/fleet/truth.json --report /tmp/report.json
            """
    )

    @Option(help: "The simulator's truth.json.")
    var truth: String

    @Option(help: "The report of `fleetrules run` (JSON).")
    var report: String

    @Option(help: "Output format: text or json.")
    var format: OutputFormat = .text

    @Option(help: "Compliance rule to score firmware with (default: the first with a devices map).")
    var rule: String?

    @Option(
        help: """
            Battery checkpoints earlier than this after the start of the data are not scored: \
            a forecast needs a day of hourly buckets before it predicts (0: score them all).
            """)
    var warmup: String = "1d"

    @Option(
        help: """
            Also count drift delays from when the true offset first exceeds this tolerance \
            (the drift rule's, in the metric's unit), per drift kind.
            """)
    var driftTolerance: Double?

    enum OutputFormat: String, ExpressibleByArgument, CaseIterable { case text, json }

    func run() throws {
        for (path, what) in [(truth, "truth"), (report, "report")] where !FileManager.default.fileExists(atPath: path) {
            Self.failUsage("\(path): no such \(what) file")
        }
        guard let warmupSeconds = DurationText.seconds(warmup) ?? (warmup == "0" ? 0 : nil), warmupSeconds.isFinite,
            warmupSeconds >= 0, warmupSeconds <= 100 * 365 * 86400
        else {
            Self.failUsage("--warmup \(warmup): not a duration of at most 100 years (e.g. 7d, 36h, 0)")
        }
        if let driftTolerance, !(driftTolerance.isFinite && driftTolerance >= 0) {
            Self.failUsage("--drift-tolerance \(driftTolerance): not a number of 0 or more")
        }
        let scored: Score
        do {
            let t = try SimulationTruth.load(path: truth)
            let r = try ScoredReport.load(path: report)
            if let rule, !r.compliance.contains(where: { $0.rule == rule }) {
                let known = r.compliance.map(\.rule)
                Self.failUsage(
                    "--rule \(rule): no such compliance rule in \(report)"
                        + (known.isEmpty ? "" : " (it has \(known.joined(separator: ", ")))"))
            }
            scored = Scorer.score(
                truth: t, report: r,
                options: .init(complianceRule: rule, warmup: warmupSeconds, driftTolerance: driftTolerance))
        } catch let error as ScoreInputError {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode(1)
        }
        switch format {
        case .json: print(scored.json().serialized(pretty: true))
        case .text: print(scored.text(), terminator: "")
        }
    }
}
