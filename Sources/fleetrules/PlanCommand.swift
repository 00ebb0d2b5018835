import ArgumentParser
import FleetRules

struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Print the evaluation plan the compiler makes from policy files.",
        discussion: """
            Shows per rule its operators and the window aggregates it reads, aggregates shared
            across rules, the history kept per metric and the state each device costs.

            Examples:
              fleetrules plan rules/
              fleetrules plan rules/ --format dot | dot -Tsvg > plan.svg
            """
    )

    @OptionGroup var policy: PolicyPaths

    @Option(help: "Output format: text, json or dot.")
    var format: Format = .text

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json, dot }

    func run() throws {
        let (loaded, _) = policy.load()
        let plan = loaded.compile()
        switch format {
        case .text: print(PlanRenderer.text(plan), terminator: "")
        case .json: print(PlanRenderer.json(plan).serialized(pretty: true))
        case .dot: print(PlanRenderer.dot(plan), terminator: "")
        }
    }
}
