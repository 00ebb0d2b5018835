import Foundation
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A real `fleetrules serve` process on 127.0.0.1 with a port the kernel picked.
final class ServeProcess {
    let process = Process()
    let port: Int
    private let stderrFile: URL

    struct StartFailure: Error, CustomStringConvertible {
        var description: String
    }

    /// `descriptorLimit`: start it under `ulimit -n` of that many file descriptors.
    init(_ arguments: [String], descriptorLimit: Int? = nil) throws {
        if let descriptorLimit {
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments =
                ["-c", "ulimit -n \(descriptorLimit) && exec \"$0\" \"$@\"", CLI.binary.path, "serve", "--port", "0"]
                + arguments
        } else {
            process.executableURL = CLI.binary
            process.arguments = ["serve", "--port", "0"] + arguments
        }
        process.currentDirectoryURL = CLI.repoRoot
        stderrFile = FileManager.default.temporaryDirectory.appendingPathComponent(
            "fleetrules-serve-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: stderrFile.path, contents: nil)
        process.standardError = try FileHandle(forWritingTo: stderrFile)
        let (listening, line) = try CLI.startListening(process)
        guard let listening else {
            process.waitUntilExit()
            let log = (try? String(contentsOf: stderrFile, encoding: .utf8)) ?? ""
            throw StartFailure(description: "serve did not start: \(line) \(log)")
        }
        port = listening
    }

    var log: String { (try? String(contentsOf: stderrFile, encoding: .utf8)) ?? "" }

    struct Reply {
        var status: Int
        var body: Data
        var headers: [String: String]
        var text: String { String(decoding: body, as: UTF8.self) }
        var json: [String: Any] { ((try? JSONSerialization.jsonObject(with: body)) as? [String: Any]) ?? [:] }
    }

    func request(
        _ method: String, _ path: String, body: Data? = nil, token: String? = nil, contentType: String? = nil,
        headers: [String: String] = [:]
    ) async throws -> Reply {
        guard let url = URL(string: "http://127.0.0.1:\(port)\(path)") else {
            throw StartFailure(description: "bad path \(path)")
        }
        var r = URLRequest(url: url)
        r.httpMethod = method
        r.httpBody = body
        if let token { r.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let contentType { r.setValue(contentType, forHTTPHeaderField: "Content-Type") }
        for (k, v) in headers { r.setValue(v, forHTTPHeaderField: k) }
        let (data, response) = try await URLSession.shared.data(for: r)
        let http = response as? HTTPURLResponse
        var h: [String: String] = [:]
        for (k, v) in http?.allHeaderFields ?? [:] { h[String(describing: k).lowercased()] = String(describing: v) }
        return Reply(status: http?.statusCode ?? 0, body: data, headers: h)
    }

    func get(_ path: String) async throws -> Reply { try await request("GET", path) }
    func post(_ path: String, _ text: String, token: String? = nil, contentType: String? = nil) async throws -> Reply {
        try await request("POST", path, body: Data(text.utf8), token: token, contentType: contentType)
    }

    /// SIGTERM, then waits for the exit; returns the exit status.
    @discardableResult
    func stop() -> Int32 {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        return process.terminationStatus
    }

    deinit { if process.isRunning { process.terminate() } }
}

enum ServeFixture {
    static let pack = """
        fleetrules: 1
        pack: t
        metrics:
          temp: { unit: celsius, range: [-50, 150] }
        rules:
          - alert: hot
            when: last(temp) > 50
            for: 10m
            severity: critical
            summary: "{{device}} is hot"
          - alert: cold
            when: last(temp) < 0
            severity: warning

        """
    static let inventory = "device,type,site,zone,gateway\nd1,sensor,s1,z1,g1\nd2,sensor,s2,z1,g1\n"

    static func reading(_ minute: Int, _ device: String, _ temp: Double) -> String {
        let t = Date(timeIntervalSince1970: 1_772_323_200 + Double(minute) * 60)  // 2026-03-01T00:00:00Z
        return "{\"ts\":\"\(ISO8601DateFormatter().string(from: t))\",\"device\":\"\(device)\",\"temp\":\(temp)}"
    }

    /// A folder with the pack and the inventory; returns (rules dir, inventory path).
    static func files(pack: String = pack) throws -> (rules: String, inventory: String) {
        let inv = try CLI.temporaryFile("inventory.csv", inventory)
        let rules = try CLI.temporaryFile("rules.yaml", pack)
        return (rules, inv)
    }

    static func json(_ text: String) -> Any? { try? JSONSerialization.jsonObject(with: Data(text.utf8)) }
}

@Suite(.serialized) struct ServeTests {
    /// Ingest through HTTP gives the same report as `fleetrules run` over the same lines;
    /// every query endpoint answers; bad bodies get 400 with their line and big ones 413.
    @Test func ingestAndQueries() async throws {
        let simDir = FileManager.default.temporaryDirectory.appendingPathComponent("serve-sim-\(UUID().uuidString)")
            .path
        let sim = try CLI.run([
            "simulate", "--devices", "20", "--days", "1", "--interval", "10m", "--seed", "5", "--out", simDir,
        ])
        #expect(sim.status == 0, "\(sim.stderr)")
        let telemetry = "\(simDir)/telemetry.jsonl"
        let inventory = "\(simDir)/inventory.csv"
        let plain = try CLI.run([
            "run", "rules/", "--telemetry", telemetry, "--inventory", inventory, "--format", "json",
        ])
        #expect(plain.status == 0, "\(plain.stderr)")
        let jsonl = try Data(contentsOf: URL(fileURLWithPath: telemetry))

        let server = try ServeProcess([
            "--rules", "rules/", "--inventory", inventory, "--max-body", "\(jsonl.count + 10)",
        ])
        defer { server.stop() }
        #expect(try await server.get("/healthz").status == 200)
        let ready = try await server.get("/readyz")
        #expect(ready.status == 200 && ready.json["version"] as? Int == 1)

        let ingest = try await server.request("POST", "/v1/telemetry", body: jsonl)
        #expect(ingest.status == 200, "\(ingest.text)")
        let count = jsonl.split(separator: 0x0A).count
        #expect(ingest.json["lines"] as? Int == count)
        let malformed = (ingest.json["reasons"] as? [String: Int])?["malformed"] ?? 0
        #expect(malformed > 0)  // the simulator truncates some lines; they are counted like `run` does
        #expect(ingest.json["rejected"] as? Int == malformed)
        #expect(ingest.json["accepted"] as? Int == count - malformed)

        // The same JSON as `run`.
        let served = try await server.get("/v1/report")
        #expect(served.status == 200)
        let a = try JSONSerialization.jsonObject(with: served.body) as? NSDictionary
        // Rejection examples name their origin: the file for `run`, "request" for the service.
        let runJSON = plain.stdout.replacingOccurrences(of: "\"file\": \"\(telemetry)\"", with: "\"file\": \"request\"")
        let b = try JSONSerialization.jsonObject(with: Data(runJSON.utf8)) as? NSDictionary
        #expect(a != nil && a == b)
        let alertsInReport = ((a?["alerts"] as? [Any]) ?? []).count
        #expect(alertsInReport > 0)

        // Alerts and their filters.
        let all = try await server.get("/v1/alerts")
        #expect((all.json["alerts"] as? [[String: Any]])?.count == alertsInReport)
        let warnings = try await server.get("/v1/alerts?severity=warning&state=firing")
        for alert in warnings.json["alerts"] as? [[String: Any]] ?? [] {
            #expect(alert["severity"] as? String == "warning")
            #expect(alert["until"] is NSNull)
        }
        let firstRule = ((all.json["alerts"] as? [[String: Any]])?.first?["rule"] as? String) ?? ""
        let byRule = try await server.get("/v1/alerts?rule=\(firstRule)")
        #expect(!(byRule.json["alerts"] as? [[String: Any]] ?? []).isEmpty)
        for alert in byRule.json["alerts"] as? [[String: Any]] ?? [] { #expect(alert["rule"] as? String == firstRule) }
        #expect(try await server.get("/v1/alerts?state=maybe").status == 400)
        for section in ["maintenance", "rebalancing", "compliance"] {
            let r = try await server.get("/v1/\(section)")
            #expect(r.status == 200 && r.json[section] != nil, "\(section)")
        }
        let device = try await server.get("/v1/devices/d-00001")
        #expect(device.status == 200)
        #expect((device.json["inventory"] as? [String: Any])?["device"] as? String == "d-00001")
        #expect(!(device.json["rules"] as? [Any] ?? []).isEmpty)
        #expect(try await server.get("/v1/devices/nope").status == 404)

        // A JSON array: counted rejections keep their element's line.
        let array =
            "[\n" + ServeFixture.reading(1440, "d-00001", 20) + ",\n"
            + ServeFixture.reading(1440, "ghost", 20)
            .replacingOccurrences(of: "\"temp\"", with: "\"temperature\"") + "\n]"
        let mixed = try await server.post("/v1/telemetry", array)
        #expect(mixed.status == 200, "\(mixed.text)")
        #expect(mixed.json["accepted"] as? Int == 1)
        let rejection = (mixed.json["rejections"] as? [[String: Any]])?.first
        #expect(rejection?["reason"] as? String == "unknown_device")
        #expect(rejection?["line"] as? Int == 3)
        #expect((mixed.json["reasons"] as? [String: Any])?["unknown_device"] as? Int == 1)

        // Malformed bodies: 400 with the line, and nothing of them is ingested.
        let before = try await server.get("/readyz").json["readings"] as? Int
        let oneBad = ServeFixture.reading(1441, "d-00001", 1) + "\n{\"ts\": oops}\n"
        let bad = try await server.post("/v1/telemetry?strict=true", oneBad)
        #expect(bad.status == 400)
        #expect(bad.json["line"] as? Int == 2)
        let garbage = try await server.post("/v1/telemetry", "\nthis is not telemetry\nnor this\n")
        #expect(garbage.status == 400)
        #expect(garbage.json["line"] as? Int == 2)
        let badArray = try await server.post("/v1/telemetry", "[\n" + ServeFixture.reading(1441, "d-00001", 1) + ",\n")
        #expect(badArray.status == 400)
        #expect(badArray.json["line"] != nil)
        #expect(try await server.get("/readyz").json["readings"] as? Int == before)
        // Not strict: the bad line is a counted `malformed` rejection with its line, the good one is kept.
        let lenient = try await server.post("/v1/telemetry", oneBad)
        #expect(lenient.status == 200)
        #expect(lenient.json["accepted"] as? Int == 1)
        #expect((lenient.json["rejections"] as? [[String: Any]])?.first?["line"] as? Int == 2)
        #expect((lenient.json["rejections"] as? [[String: Any]])?.first?["reason"] as? String == "malformed")

        // Over the size limit.
        let big = try await server.request(
            "POST", "/v1/telemetry", body: Data(repeating: 0x20, count: jsonl.count + 100))
        #expect(big.status == 413)

        // Request ids: the client's is echoed, otherwise one is made; both are logged.
        let tagged = try await server.request("GET", "/healthz", headers: ["X-Request-Id": "abc-123"])
        #expect(tagged.headers["x-request-id"] == "abc-123")
        #expect(!(try await server.get("/healthz").headers["x-request-id"] ?? "").isEmpty)

        // Metrics in Prometheus text format.
        let metrics = try await server.get("/metrics")
        #expect(metrics.status == 200)
        #expect(metrics.text.contains("fleetrules_readings_ingested_total \(count - malformed + 2)"))
        #expect(metrics.text.contains("fleetrules_readings_rejected_total{reason=\"unknown_device\"} 1"))
        #expect(metrics.text.contains("fleetrules_evaluation_duration_seconds_count 3"))
        #expect(metrics.text.contains("fleetrules_alerts_firing{severity="))

        #expect(server.stop() == 0)
        #expect(server.log.contains("request_id=abc-123"))
    }

    /// --log-format json: one JSON object per line, with the request id and the request's fields.
    @Test func jsonLogs() async throws {
        let (rules, inventory) = try ServeFixture.files()
        let server = try ServeProcess(["--rules", rules, "--inventory", inventory, "--log-format", "json"])
        let reply = try await server.request("GET", "/v1/alerts", headers: ["X-Request-Id": "req-42"])
        #expect(reply.status == 200)
        #expect(server.stop() == 0)
        let objects = server.log.split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
        }
        #expect(objects.count == server.log.split(separator: "\n").count)
        let line = objects.first { $0["request_id"] as? String == "req-42" }
        #expect(line?["path"] as? String == "/v1/alerts")
        #expect(line?["status"] as? String == "200")
        #expect(line?["level"] as? String == "info")
        #expect(objects.contains { $0["message"] as? String == "stopped" })
    }

    /// Write endpoints need the token; reads do not.
    @Test func bearerTokenGuardsWrites() async throws {
        let (rules, inventory) = try ServeFixture.files()
        let tokenFile = try CLI.temporaryFile("token", "s3cret\n")
        let server = try ServeProcess(["--rules", rules, "--inventory", inventory, "--token-file", tokenFile])
        defer { server.stop() }
        let line = ServeFixture.reading(0, "d1", 20)
        let none = try await server.post("/v1/telemetry", line)
        #expect(none.status == 401)
        #expect(none.headers["www-authenticate"]?.hasPrefix("Bearer") == true)
        #expect(try await server.post("/v1/telemetry", line, token: "wrong").status == 401)
        #expect(try await server.post("/v1/rules", "", token: "s3cret2").status == 401)
        #expect(try await server.post("/v1/rules/rollback", "").status == 401)
        #expect(try await server.post("/v1/rules/validate", ServeFixture.pack).status == 401)
        #expect(try await server.post("/v1/telemetry", line, token: "s3cret").status == 200)
        #expect(try await server.get("/v1/alerts").status == 200)
        #expect(try await server.get("/readyz").json["readings"] as? Int == 1)
    }

    /// A broken pack is refused and the old plan keeps answering; a good one becomes a new
    /// version with state carried over; rollback goes back; SIGHUP reloads from disk.
    @Test func reloadValidateRollback() async throws {
        let (rules, inventory) = try ServeFixture.files()
        let server = try ServeProcess(["--rules", rules, "--inventory", inventory])
        defer { server.stop() }
        // d1 is hot from minute 0: `for: 10m` pending.
        let first = [0, 5].map { ServeFixture.reading($0, "d1", 60) }.joined(separator: "\n")
        #expect(try await server.post("/v1/telemetry", first).json["accepted"] as? Int == 2)

        let broken = ServeFixture.pack.replacingOccurrences(of: "last(temp) > 50", with: "last(tmp) > 50")
        let validated = try await server.post("/v1/rules/validate", broken)
        #expect(validated.status == 422)
        let diagnostic = (validated.json["diagnostics"] as? [[String: Any]])?.first
        #expect(diagnostic?["line"] as? Int == 7)
        #expect(diagnostic?["code"] as? String != nil)
        #expect(try await server.post("/v1/rules/validate", ServeFixture.pack).json["ok"] as? Bool == true)

        let refused = try await server.post("/v1/rules", broken)
        #expect(refused.status == 422)
        #expect(refused.json["error"] as? String == "invalid_pack")
        #expect(try await server.get("/v1/rules").json["active"] as? Int == 1)
        #expect(try await server.get("/v1/alerts").status == 200)

        // A new version: `cold` changes, `hot` does not and keeps its pending `for`.
        let changed = ServeFixture.pack.replacingOccurrences(of: "last(temp) < 0", with: "last(temp) < -5")
        let reloaded = try await server.request(
            "POST", "/v1/rules",
            body: try JSONSerialization.data(withJSONObject: ["files": ["rules.yaml": changed]]),
            contentType: "application/json")
        #expect(reloaded.status == 200, "\(reloaded.text)")
        #expect(reloaded.json["version"] as? Int == 2)
        let diff = reloaded.json["rules"] as? [String: [String]]
        #expect(diff?["unchanged"] == ["hot"])
        #expect(diff?["changed"] == ["cold"])
        #expect(reloaded.json["replayed_readings"] as? Int == 2)
        let more = [10, 15].map { ServeFixture.reading($0, "d1", 60) }.joined(separator: "\n")
        #expect(try await server.post("/v1/telemetry", more).json["accepted"] as? Int == 2)
        let hot = try await server.get("/v1/alerts?rule=hot&state=firing")
        let alert = (hot.json["alerts"] as? [[String: Any]])?.first
        #expect(alert?["device"] as? String == "d1")
        #expect(alert?["severity"] as? String == "critical")

        // Rollback to version 1, then there is nothing before it.
        let back = try await server.post("/v1/rules/rollback", "")
        #expect(back.status == 200)
        #expect(back.json["version"] as? Int == 1)
        #expect(try await server.get("/v1/rules").json["active"] as? Int == 1)
        #expect(try await server.post("/v1/rules/rollback", "").status == 409)
        #expect(!((try await server.get("/v1/alerts?rule=hot").json["alerts"] as? [Any]) ?? []).isEmpty)

        // SIGHUP reloads the file on disk.
        try ServeFixture.pack.replacingOccurrences(of: "severity: warning", with: "severity: info")
            .write(toFile: rules, atomically: true, encoding: .utf8)
        kill(server.process.processIdentifier, SIGHUP)
        var active = 0
        for _ in 0..<100 where active != 3 {
            try await Task.sleep(for: .milliseconds(100))
            active = try await server.get("/v1/rules").json["active"] as? Int ?? 0
        }
        #expect(active == 3)
        // A broken file on disk: SIGHUP is refused, version 3 stays.
        try broken.write(toFile: rules, atomically: true, encoding: .utf8)
        kill(server.process.processIdentifier, SIGHUP)
        for _ in 0..<100 where !server.log.contains("SIGHUP reload rejected") {
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(server.log.contains("SIGHUP reload rejected"))
        #expect(try await server.get("/v1/rules").json["active"] as? Int == 3)
        #expect(server.stop() == 0)
    }

    /// A body with no readings at all (empty, blank lines, an empty array) is refused with 400,
    /// as docs/SERVER.md says, not answered as an ingest of nothing.
    /// Validating a pack answers exactly what `fleetrules check --format json` prints for it.
    @Test func validateAnswersWhatCheckPrints() async throws {
        let (rules, inventory) = try ServeFixture.files()
        let server = try ServeProcess(["--rules", rules, "--inventory", inventory])
        defer { server.stop() }
        let broken = ServeFixture.pack.replacingOccurrences(of: "last(temp) > 50", with: "last(tmp) > 50")
        for (pack, status) in [(broken, 422), (ServeFixture.pack, 200)] {
            let path = try CLI.temporaryFile("pack.yaml", pack)
            let checked = try CLI.run(["check", path, "--format", "json"])
            let query = path.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? path
            let validated = try await server.post("/v1/rules/validate?file=\(query)", pack)
            #expect(validated.status == status)
            let printed = try #require(ServeFixture.json(checked.stdout) as? NSDictionary)
            #expect(printed == validated.json as NSDictionary, "\(checked.stdout)\n\(validated.text)")
            #expect(printed["ok"] as? Bool == (status == 200))
            #expect(printed["files"] as? [String] == [path])
        }
    }

    @Test func aBlankTelemetryBodyIsRefused() async throws {
        let (rules, inventory) = try ServeFixture.files()
        let server = try ServeProcess(["--rules", rules, "--inventory", inventory])
        defer { server.stop() }
        for body in ["", "\n", "  \r\n\t\n", "[]", " [\n] "] {
            let reply = try await server.post("/v1/telemetry", body)
            #expect(reply.status == 400, "\(body.debugDescription): \(reply.text)")
            #expect(reply.json["error"] as? String == "empty_body", "\(body.debugDescription)")
            #expect(reply.json["message"] as? String != nil)
        }
        #expect(try await server.post("/v1/telemetry", ServeFixture.reading(0, "d1", 20)).status == 200)
    }

    /// The authentication scheme's name is case-insensitive (RFC 7235); the token is not.
    @Test func theBearerSchemeIsCaseInsensitive() async throws {
        let (rules, inventory) = try ServeFixture.files()
        let tokenFile = try CLI.temporaryFile("token", "s3cret\n")
        let server = try ServeProcess(["--rules", rules, "--inventory", inventory, "--token-file", tokenFile])
        defer { server.stop() }
        let line = ServeFixture.reading(0, "d1", 20)
        for header in ["bearer s3cret", "BEARER s3cret", "BeArEr s3cret", "Bearer  s3cret"] {
            let reply = try await server.request(
                "POST", "/v1/telemetry", body: Data(line.utf8), headers: ["Authorization": header])
            #expect(reply.status == 200, "\(header): \(reply.text)")
        }
        for header in ["bearer S3CRET", "Basic s3cret", "Bearers3cret", "bearer", "s3cret"] {
            let reply = try await server.request(
                "POST", "/v1/telemetry", body: Data(line.utf8), headers: ["Authorization": header])
            #expect(reply.status == 401, "\(header)")
        }
    }

    /// Rollback walks back along the activations: after v1, v2, rollback (v1), v3, a rollback
    /// activates v1, the version that ran before v3, not v2.
    @Test func rollbackReturnsToTheVersionThatRanBeforeTheActiveOne() async throws {
        let (rules, inventory) = try ServeFixture.files()
        let server = try ServeProcess(["--rules", rules, "--inventory", inventory])
        defer { server.stop() }
        let v2 = ServeFixture.pack.replacingOccurrences(of: "last(temp) < 0", with: "last(temp) < -2")
        let v3 = ServeFixture.pack.replacingOccurrences(of: "last(temp) < 0", with: "last(temp) < -3")
        #expect(try await server.post("/v1/rules", v2).json["version"] as? Int == 2)
        #expect(try await server.post("/v1/rules/rollback", "").json["version"] as? Int == 1)
        #expect(try await server.post("/v1/rules", v3).json["version"] as? Int == 3)
        let back = try await server.post("/v1/rules/rollback", "")
        #expect(back.status == 200)
        #expect(back.json["version"] as? Int == 1)
        #expect(try await server.get("/v1/rules").json["active"] as? Int == 1)
        #expect(try await server.post("/v1/rules/rollback", "").status == 409)
        // v1, v4, v5: rollbacks go back v4, then v1.
        #expect(try await server.post("/v1/rules", v2).json["version"] as? Int == 4)
        #expect(try await server.post("/v1/rules", v3).json["version"] as? Int == 5)
        #expect(try await server.post("/v1/rules/rollback", "").json["version"] as? Int == 4)
        #expect(try await server.post("/v1/rules/rollback", "").json["version"] as? Int == 1)
    }

    /// A SIGHUP as soon as the server listens reloads it (the signal is trapped before it
    /// listens); SIGINT stops it like SIGTERM: the journal is written and it exits 0.
    @Test func anEarlySIGHUPReloadsAndSIGINTStopsGracefully() async throws {
        let (rules, inventory) = try ServeFixture.files()
        let stateDir = FileManager.default.temporaryDirectory.appendingPathComponent("serve-state-\(UUID().uuidString)")
            .path
        let server = try ServeProcess(["--rules", rules, "--inventory", inventory, "--state-dir", stateDir])
        kill(server.process.processIdentifier, SIGHUP)
        for _ in 0..<100 where !server.log.contains("reloaded on SIGHUP") {
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        #expect(server.log.contains("reloaded on SIGHUP"), "\(server.log)")
        #expect(server.process.isRunning)
        #expect(try await server.get("/v1/rules").json["active"] as? Int == 2)
        #expect(try await server.post("/v1/telemetry", ServeFixture.reading(0, "d1", 60)).json["accepted"] as? Int == 1)
        kill(server.process.processIdentifier, SIGINT)
        server.process.waitUntilExit()
        #expect(server.process.terminationReason == .exit)
        #expect(server.process.terminationStatus == 0)
        #expect(server.log.contains("stopped"))

        let again = try ServeProcess(["--rules", rules, "--inventory", inventory, "--state-dir", stateDir])
        defer { again.stop() }
        #expect(try await again.get("/readyz").json["readings"] as? Int == 1)
    }

    /// With --state-dir a restart restores the windows and the pending `for` timer: d1 hot at
    /// minutes 0 and 5 before the restart, 11 after; `hot` (for: 10m) fires only if minute 0 survived.
    @Test func restartRestoresState() async throws {
        let (rules, inventory) = try ServeFixture.files()
        let stateDir = FileManager.default.temporaryDirectory.appendingPathComponent("serve-state-\(UUID().uuidString)")
            .path
        let first = try ServeProcess(["--rules", rules, "--inventory", inventory, "--state-dir", stateDir])
        let before = [0, 5].map { ServeFixture.reading($0, "d1", 60) }.joined(separator: "\n")
        #expect(try await first.post("/v1/telemetry", before).json["accepted"] as? Int == 2)
        #expect(first.stop() == 0)
        #expect(first.log.contains("stopped"))

        let second = try ServeProcess(["--rules", rules, "--inventory", inventory, "--state-dir", stateDir])
        defer { second.stop() }
        #expect(try await second.get("/readyz").json["readings"] as? Int == 2)
        #expect(
            try await second.post("/v1/telemetry", ServeFixture.reading(11, "d1", 60)).json["accepted"] as? Int == 1)
        let alerts = try await second.get("/v1/alerts?rule=hot").json["alerts"] as? [[String: Any]] ?? []
        #expect(alerts.count == 1)
        #expect(alerts.first?["since"] as? String == "2026-03-01T00:10:00Z")

        // Without the state directory the same last reading alone fires nothing.
        let fresh = try ServeProcess(["--rules", rules, "--inventory", inventory])
        defer { fresh.stop() }
        #expect(try await fresh.post("/v1/telemetry", ServeFixture.reading(11, "d1", 60)).json["accepted"] as? Int == 1)
        #expect((try await fresh.get("/v1/alerts?rule=hot").json["alerts"] as? [Any])?.isEmpty == true)
    }
}

/// docs/openapi.json against the real server: every route the server registers is documented,
/// and every documented operation, called with its documented example, answers with a
/// documented status and content type (GETs with 200); secured ones refuse a missing token.
@Suite(.serialized) struct OpenAPITests {
    static func document() throws -> [String: Any] {
        let data = try Data(contentsOf: CLI.repoRoot.appendingPathComponent("docs/openapi.json"))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    @Test func everyRouteIsDocumented() throws {
        let paths = try #require(try Self.document()["paths"] as? [String: Any])
        let source = try String(
            contentsOf: CLI.repoRoot.appendingPathComponent("Sources/FleetRulesServer/Server.swift"), encoding: .utf8)
        let regex = try NSRegularExpression(pattern: #"router\.(get|post)\("([^"]+)"\)"#)
        let matches = regex.matches(in: source, range: NSRange(source.startIndex..., in: source))
        #expect(matches.count >= 14)
        for m in matches {
            guard let methodRange = Range(m.range(at: 1), in: source), let pathRange = Range(m.range(at: 2), in: source)
            else {
                continue
            }
            let path = "/" + source[pathRange].replacingOccurrences(of: ":id", with: "{id}")
            let operations = paths[path] as? [String: Any]
            #expect(
                operations?[String(source[methodRange])] != nil,
                "\(source[methodRange]) \(path) is not in docs/openapi.json")
        }
    }

    @Test func everyDocumentedOperationAnswersAsDocumented() async throws {
        let doc = try Self.document()
        let paths = try #require(doc["paths"] as? [String: [String: Any]])
        let (rules, inventory) = try ServeFixture.files()
        let tokenFile = try CLI.temporaryFile("token", "t0k")
        let server = try ServeProcess(["--rules", rules, "--inventory", inventory, "--token-file", tokenFile])
        defer { server.stop() }
        var called = 0
        for (template, operations) in paths.sorted(by: { $0.key < $1.key }) {
            for (method, value) in operations.sorted(by: { $0.key < $1.key }) {
                let operation = try #require(value as? [String: Any])
                var path = template
                for p in operation["parameters"] as? [[String: Any]] ?? [] where p["in"] as? String == "path" {
                    let name = try #require(p["name"] as? String)
                    path = path.replacingOccurrences(of: "{\(name)}", with: "\(try #require(p["example"]))")
                }
                var body: Data?
                var contentType: String?
                if let content = (operation["requestBody"] as? [String: Any])?["content"] as? [String: [String: Any]],
                    let (type, media) = content.sorted(by: { $0.key < $1.key }).first(where: {
                        $0.value["example"] != nil
                    })
                {
                    contentType = type
                    if let text = media["example"] as? String {
                        body = Data(text.utf8)
                    } else if let example = media["example"] {
                        body = try JSONSerialization.data(withJSONObject: example)
                    }
                }
                let secured = operation["security"] != nil
                let reply = try await server.request(
                    method.uppercased(), path, body: body, token: secured ? "t0k" : nil, contentType: contentType)
                let responses = try #require(operation["responses"] as? [String: Any])
                let documented = responses[String(reply.status)] as? [String: Any]
                #expect(documented != nil, "\(method) \(path) answered \(reply.status): \(reply.text)")
                if method == "get" { #expect(reply.status == 200, "\(method) \(path)") }
                let resolved =
                    (documented?["$ref"] as? String).flatMap { ref in
                        (((doc["components"] as? [String: Any])?["responses"] as? [String: Any])?[
                            String(ref.split(separator: "/").last ?? "")] as? [String: Any])
                    } ?? documented
                if let types = (resolved?["content"] as? [String: Any])?.keys {
                    let actual = reply.headers["content-type"] ?? ""
                    #expect(types.contains { actual.hasPrefix($0) }, "\(method) \(path): content type \(actual)")
                }
                if secured {
                    let denied = try await server.request(
                        method.uppercased(), path, body: body, contentType: contentType)
                    #expect(denied.status == 401 && responses["401"] != nil, "\(method) \(path) without a token")
                }
                called += 1
            }
        }
        #expect(called == 19)
    }
}

@Suite(.serialized) struct ServeDeliveryTests {
    /// `serve --deliver`: alerts raised by HTTP ingest reach the webhook receiver signed, the
    /// outbox depth is exported, and SIGTERM flushes what is left.
    @Test func alertsFromIngestAreDeliveredAndTheOutboxIsMetered() async throws {
        let receiver = try Served(["webhook-receiver", "--secret", DeliveryFixture.secret])
        defer { receiver.stop() }
        let (pack, _, inventory) = try DeliveryFixture.smallFleet()
        let config = try CLI.temporaryFile("delivery.yaml", DeliveryFixture.config(webhook: receiver.base, sms: nil))
        let outbox = FileManager.default.temporaryDirectory.appendingPathComponent(
            "serve-outbox-\(UUID().uuidString).sqlite"
        ).path
        let serve = try ServeProcess([
            "--rules", pack, "--inventory", inventory, "--deliver", config, "--outbox", outbox,
        ])
        let body = """
            {"ts":"2026-03-01T00:00:00Z","device":"d1","battery_pct":50}
            {"ts":"2026-03-01T00:10:00Z","device":"d1","battery_pct":3}
            {"ts":"2026-03-01T00:20:00Z","device":"d1","battery_pct":3}
            {"ts":"2026-03-01T00:30:00Z","device":"d1","battery_pct":3}
            """
        let reply = try await serve.post("/v1/telemetry", body)
        #expect(reply.status == 200)
        // d1 fires battery-empty and battery-low: two groups (group_by rule, device), two webhooks.
        var received = 0
        for _ in 0..<100 {
            let s = try #require(try await receiver.getJSON("/received") as? [String: Any])
            received = s["received"] as? Int ?? 0
            if received >= 2 { break }
            try await Task.sleep(nanoseconds: 100_000_000)
        }
        #expect(received >= 2)
        let summary = try #require(try await receiver.getJSON("/received") as? [String: Any])
        // The receiver verifies every signature; a bad one would be counted as rejected.
        #expect((summary["rejected"] as? Int ?? -1) == 0, "\(summary)")
        #expect((summary["unique"] as? Int ?? 0) == 2, "\(summary)")
        let metrics = try await serve.get("/metrics")
        #expect(metrics.text.contains("fleetrules_outbox_depth"))
        #expect(serve.stop() == 0)
        #expect(serve.log.contains("delivery flushed at shutdown"), "\(serve.log)")
    }
}

@Suite struct ServeStartupTests {
    @Test func aMissingRulesPathIsAnErrorNamingIt() throws {
        let out = try CLI.run([
            "serve", "--rules", "/no/such/rules", "--inventory", "examples/fleet/inventory.csv", "--port", "0",
        ])
        #expect(out.status == 1)
        #expect(out.stderr == "error: /no/such/rules: no such file or folder\n")
    }
}
