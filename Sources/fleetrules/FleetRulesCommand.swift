import ArgumentParser
import FleetRules
import Foundation

/// The `fleetrules` command: thin subcommands over the FleetRules library.
@main
struct FleetRulesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleetrules",
        abstract: "Rules and policies for fleets of IoT devices: check, plan and run them over telemetry.",
        discussion: """
            Exit codes: 0 success, 1 problems found (errors in rules, failed checks), 2 usage errors.
            """,
        version: "0.1.0",
        subcommands: [
            CheckCommand.self, PlanCommand.self, RunCommand.self, ReportCommand.self, TestCommand.self,
            ExplainCommand.self,
            SimulateCommand.self, ScoreCommand.self, SchemaCommand.self, BenchCommand.self,
            OutboxCommand.self, WebhookReceiverCommand.self, SMSGatewayCommand.self, ServeCommand.self,
            SilenceCommand.self,
        ]
    )

    /// Parses and runs like AsyncParsableCommand.main(), but maps usage errors to exit code 2.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asynchronous = command as? any AsyncParsableCommand {
                try await asynchronous.run()
            } else {
                try command.run()
            }
        } catch let exit as ExitCode {
            Foundation.exit(exit.rawValue)
        } catch {
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            if !message.isEmpty {
                if code == .success {
                    print(message)
                } else {
                    FileHandle.standardError.write(Data((message + "\n").utf8))
                }
            }
            if code == .success { Foundation.exit(0) }
            Foundation.exit(code == .validationFailure || code.rawValue == 64 ? 2 : code.rawValue)
        }
    }
}

extension ParsableArguments {
    /// A usage problem found after parsing (a missing file, say): the message on stderr, exit 2.
    static func failUsage(_ message: String) -> Never {
        FileHandle.standardError.write(Data("error: \(message)\n".utf8))
        Foundation.exit(2)
    }
}
