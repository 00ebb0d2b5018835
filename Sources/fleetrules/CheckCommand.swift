import ArgumentParser
import FleetRules
import FleetRulesDelivery
import Foundation

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check policy files: syntax, names, types, units, and rules that can never fire.",
        discussion: """
            Prints each problem as `file:line:col: severity[CODE]: message` with the source line,
            a caret under the offending token and a hint. Exit code 0 when clean, 1 on errors
            (and on warnings with --warnings-as-errors), 2 on usage problems.

            Example:
              fleetrules check rules/
              fleetrules check rules/battery.yaml --format json
              fleetrules check rules/ --data telemetry.jsonl --inventory inventory.csv
              fleetrules check --delivery examples/delivery.yaml
            """
    )

    @Argument(help: "Policy files or folders of *.yaml files.")
    var paths: [String] = []

    @Option(help: "Also check this delivery configuration (docs/DELIVERY.md).")
    var delivery: String?

    @Option(help: "Output format: text or json.")
    var format: OutputFormat = .text

    @Flag(help: "Treat warnings as errors.")
    var warningsAsErrors = false

    @Option(
        name: .long, parsing: .upToNextOption,
        help: "Telemetry to check the rules against (JSON Lines or CSV, .gz allowed).")
    var data: [String] = []

    @Option(help: "Inventory CSV for the data checks.")
    var inventory: String?

    @Option(help: "Colour the text output: auto, always or never.")
    var color: ColorMode = .auto

    enum OutputFormat: String, ExpressibleByArgument, CaseIterable { case text, json }
    enum ColorMode: String, ExpressibleByArgument, CaseIterable { case auto, always, never }

    func validate() throws {
        if inventory != nil && data.isEmpty { throw ValidationError("--inventory needs --data") }
        if !data.isEmpty && inventory == nil { throw ValidationError("--data needs --inventory") }
        if paths.isEmpty && delivery == nil { throw ValidationError("give policy paths, --delivery, or both") }
    }

    func run() throws {
        let files: [String]
        do {
            files = paths.isEmpty ? [] : try PolicyLoader.files(for: paths)
        } catch {
            Self.failUsage(error.description)
        }
        var result = PolicyLoader().check(files: files)
        if let delivery {
            if !FileManager.default.fileExists(atPath: delivery) { Self.failUsage("\(delivery): no such file") }
            let d = DeliveryLoader.check(path: delivery)
            result.diagnostics += d.diagnostics
            result.sources[delivery] = d.source
            result.files.append(delivery)
        }
        if !data.isEmpty, let policy = result.policy {
            for path in data where path != "-" && !FileManager.default.fileExists(atPath: path) {
                Self.failUsage("\(path): no such telemetry file")
            }
            do {
                result.diagnostics += try DataChecks.run(
                    policy, inventory: PolicyInput.inventory(inventory), dataFiles: data)
            } catch {
                FileHandle.standardError.write(Data("error: \(Self.describe(error))\n".utf8))
                throw ExitCode(1)
            }
        }
        let failed = result.hasErrors || (warningsAsErrors && result.warningCount > 0)
        switch format {
        case .json:
            print(result.json().serialized(pretty: true))
        case .text:
            let useColor = color == .always || (color == .auto && isatty(STDOUT_FILENO) == 1)
            let renderer = DiagnosticRenderer(sources: result.sources, color: useColor)
            if !result.diagnostics.isEmpty { print(renderer.text(result.diagnostics)) }
            print(result.summary)
        }
        if failed { throw ExitCode(1) }
    }

    /// File-system errors in plain words rather than Foundation's domain and code.
    static func describe(_ error: Error) -> String {
        if let e = error as? TelemetryError { return e.description }
        if let e = error as? PolicyPathError { return e.description }
        let ns = error as NSError
        if ns.domain == NSCocoaErrorDomain { return "cannot read the telemetry (is it a file?)" }
        return ns.localizedDescription
    }
}
