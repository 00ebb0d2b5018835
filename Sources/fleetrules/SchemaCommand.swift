import ArgumentParser
import FleetRules

struct SchemaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema",
        abstract: "Print the JSON Schema (draft 2020-12) of policy files, for editor completion.",
        discussion: """
            Example (VS Code with the YAML extension):
              fleetrules schema > fleetrules.schema.json
              # then in settings.json: "yaml.schemas": { "fleetrules.schema.json": "rules/*.yaml" }
            """
    )

    func run() throws {
        print(PolicySchema.document().serialized(pretty: true))
    }
}
