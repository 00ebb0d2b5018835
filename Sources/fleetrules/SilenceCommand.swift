import ArgumentParser
import FleetRules
import FleetRulesDelivery
import FleetRulesServer
import Foundation

/// `fleetrules silence add|query|expire`: silences of a running `fleetrules serve`, in the
/// manner of Alertmanager's amtool.
struct SilenceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "silence",
        abstract: "Add, list and expire silences of a running `fleetrules serve`.",
        discussion: """
            Matchers are written as in amtool: name=value, name!=value, name=~regex, name!~regex
            (regular expressions are anchored at both ends; quote a value with spaces). See
            docs/SERVER.md.

            Example:
              fleetrules silence add rule=battery-low 'device=~d-000(1|2).*' --duration 2h \\
                  --comment "replacing the packs" --server http://127.0.0.1:8080
              fleetrules silence query --server http://127.0.0.1:8080
              fleetrules silence expire 8b3c0f4e-… --server http://127.0.0.1:8080
            """,
        subcommands: [Add.self, Query.self, Expire.self])

    struct Connection: ParsableArguments {
        @Option(help: "The base URL of fleetrules serve.")
        var server: String = "http://127.0.0.1:8080"

        @Option(help: "File holding the bearer token serve requires (its --token-file).")
        var tokenFile: String?

        func validate() throws {
            guard let url = URL(string: server), url.scheme == "http" || url.scheme == "https", url.host != nil else {
                throw ValidationError("--server must be an http(s) URL such as http://127.0.0.1:8080")
            }
        }

        func client() -> ServerClient {
            var token: String?
            if let tokenFile {
                guard let text = try? String(contentsOfFile: tokenFile, encoding: .utf8) else {
                    SilenceCommand.failUsage("\(tokenFile): cannot read the token file")
                }
                token = text.trimmingCharacters(in: .whitespacesAndNewlines)
            }
            return ServerClient(base: server, token: token)
        }

        /// The reply, or exit 1 naming what went wrong.
        func call(_ method: String, _ path: String, body: JSONValue? = nil) async throws -> ServerClient.Reply {
            let reply: ServerClient.Reply
            do {
                reply = try await client().send(method, path, body: body)
            } catch {
                stderr("error: cannot reach \(server): \(error)")
                throw ExitCode(1)
            }
            guard reply.ok else {
                stderr("error: \(server) answered \(reply.status): \(reply.message)")
                throw ExitCode(1)
            }
            return reply
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a silence; prints its id.")

        @Argument(help: "Matchers: name=value, name!=value, name=~regex, name!~regex.")
        var matchers: [String]

        @Option(help: "How long the silence lasts from its start, e.g. 2h.")
        var duration: String = "1h"

        @Option(help: "When it starts (RFC 3339; default now).")
        var start: String?

        @Option(help: "When it ends (RFC 3339); overrides --duration.")
        var end: String?

        @Option(help: "Why (required).")
        var comment: String

        @Option(help: "Who (default: $USER).")
        var author: String?

        @OptionGroup var connection: Connection

        func validate() throws {
            guard !matchers.isEmpty else { throw ValidationError("give at least one matcher, e.g. rule=battery-low") }
            for m in matchers {
                guard let (name, _, _) = MatcherText.parse(m), MatcherText.isLabelName(name) else {
                    throw ValidationError("'\(m)' is not a matcher such as rule=battery-low or device=~\"d-1.*\"")
                }
            }
            guard let d = DurationText.seconds(duration), d > 0 else {
                throw ValidationError("--duration must be a positive duration such as 2h")
            }
            if let start, Timestamp.parse(start) == nil { throw ValidationError("--start must be an RFC 3339 time") }
            if let end, Timestamp.parse(end) == nil { throw ValidationError("--end must be an RFC 3339 time") }
        }

        func run() async throws {
            let startsAt = start.flatMap(Timestamp.parse) ?? Date().timeIntervalSince1970
            let endsAt = end.flatMap(Timestamp.parse) ?? startsAt + (DurationText.seconds(duration) ?? 3600)
            let parsed = matchers.compactMap(MatcherText.parse)
            let body = JSONValue.object([
                (
                    "matchers",
                    .array(
                        parsed.map {
                            .object([
                                ("name", .string($0.name)), ("value", .string($0.value)),
                                ("isRegex", .bool($0.op.isRegex)), ("isEqual", .bool($0.op.isEqual)),
                            ])
                        })
                ),
                ("startsAt", .string(Timestamp.format(startsAt))),
                ("endsAt", .string(Timestamp.format(endsAt))),
                ("createdBy", .string(author ?? ProcessInfo.processInfo.environment["USER"] ?? "fleetrules")),
                ("comment", .string(comment)),
            ])
            let reply = try await connection.call("POST", "/v1/silences", body: body)
            guard case .string(let id)? = reply.json?["silenceID"] else {
                stderr("error: unexpected answer: \(reply.text)")
                throw ExitCode(1)
            }
            print(id)
        }
    }

    struct Query: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the active and pending silences (with --expired, the expired ones).")

        @Flag(help: "List the expired silences instead.")
        var expired = false

        @Option(help: "text or json")
        var format: String = "text"

        @OptionGroup var connection: Connection

        func validate() throws {
            guard format == "text" || format == "json" else { throw ValidationError("--format must be text or json") }
        }

        func run() async throws {
            let reply = try await connection.call("GET", "/v1/silences")
            guard case .array(let all)? = reply.json else {
                stderr("error: unexpected answer: \(reply.text)")
                throw ExitCode(1)
            }
            let chosen = all.filter { s in
                let state = s["status"]?["state"].flatMap { if case .string(let v) = $0 { v } else { nil } } ?? ""
                return expired ? state == "expired" : state != "expired"
            }
            if format == "json" {
                print(JSONValue.array(chosen).serialized(pretty: true))
                return
            }
            func text(_ v: JSONValue?) -> String { if case .string(let s)? = v { s } else { "" } }
            print(
                "ID                                    State    Ends at                  Created by  Comment  Matchers")
            for s in chosen {
                let matchers: [String] =
                    if case .array(let list)? = s["matchers"] {
                        list.map { m in
                            let isRegex = m["isRegex"] == .bool(true)
                            let isEqual = m["isEqual"] != .bool(false)
                            let op = DeliveryConfig.Matcher.Operator(isRegex: isRegex, isEqual: isEqual)
                            return "\(text(m["name"]))\(op.rawValue)\"\(text(m["value"]))\""
                        }
                    } else { [] }
                print(
                    [
                        text(s["id"]).padding(toLength: 37, withPad: " ", startingAt: 0),
                        text(s["status"]?["state"]).padding(toLength: 8, withPad: " ", startingAt: 0),
                        text(s["endsAt"]).padding(toLength: 24, withPad: " ", startingAt: 0),
                        text(s["createdBy"]).padding(toLength: 11, withPad: " ", startingAt: 0),
                        text(s["comment"]), matchers.joined(separator: " "),
                    ].joined(separator: " "))
            }
        }
    }

    struct Expire: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Expire silences now.")

        @Argument(help: "Silence ids.")
        var ids: [String]

        @OptionGroup var connection: Connection

        func validate() throws {
            guard !ids.isEmpty else { throw ValidationError("give the id of a silence (fleetrules silence query)") }
        }

        func run() async throws {
            for id in ids {
                let path = id.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(["-", "_"])) ?? id
                _ = try await connection.call("DELETE", "/v1/silences/\(path)")
                print("expired \(id)")
            }
        }
    }
}
