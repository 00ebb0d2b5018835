import FleetRules
import FleetRulesDelivery
import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import Metrics
import NIOCore
import Prometheus

/// `fleetrules serve`: the engine behind HTTP. docs/SERVER.md and docs/openapi.json describe it.
public struct FleetRulesServer: Sendable {
    public struct Configuration: Sendable {
        public var host = "127.0.0.1"
        public var port = 8080
        /// Request bodies larger than this get 413.
        public var maxBodyBytes = 16 << 20
        /// Bearer token required on the write endpoints (nil: no authentication).
        public var token: String?
        /// A connection on which no request starts within this time, or whose request does not
        /// arrive whole within it, is closed.
        public var idleTimeout: Duration = .seconds(60)
        /// Connections served at once; more are answered 503 (see `ConnectionLimits`).
        public var maxConnections = ConnectionLimits.defaultMaxConnections()
        /// Extra fields of `/readyz` (the MQTT ingest's connection state).
        public var readiness: (@Sendable () -> [(String, JSONValue)])?
        /// Run-time silences and acknowledgements (`/v1/silences`, `/v1/alerts/{id}/ack`);
        /// nil keeps them in memory.
        public var controls: DeliveryControls?
        public init() {}
    }

    public let configuration: Configuration
    public let host: EngineHost
    public let registry: PrometheusCollectorRegistry
    public let logger: Logger

    public init(configuration: Configuration, host: EngineHost, registry: PrometheusCollectorRegistry, logger: Logger) {
        self.configuration = configuration
        self.host = host
        self.registry = registry
        self.logger = logger
    }

    /// Installs the Prometheus exporter as the process's swift-metrics backend (once, before
    /// the host is made, so its metrics land in the returned registry).
    public static func bootstrapMetrics() -> PrometheusCollectorRegistry {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }

    /// The Hummingbird application: the router behind a connection guard, bounded connections
    /// and idle timeouts. `run(delivery:onListening:)` runs it with the service's lifecycle.
    func application(onListening: @escaping @Sendable (Int) -> Void) -> some ApplicationProtocol {
        let limit = ConnectionLimits.servedConnections(maxConnections: configuration.maxConnections)
        let counter = ConnectionCounter(limit: limit)
        let idle = TimeAmount(configuration.idleTimeout)
        let settings = ConnectionGuard.Settings(
            readTimeout: idle, overCapacityGrace: min(idle, .seconds(1)), maxBodyBytes: configuration.maxBodyBytes)
        let logger = self.logger
        let http1 = HTTP1Channel.Configuration(
            additionalChannelHandlers: [ConnectionGuard(counter: counter, settings: settings, logger: logger)],
            idleTimeout: idle)
        // Past the served connections and the few answered 503, the server stops accepting
        // (Hummingbird stops reading the listening socket) so sockets never exhaust descriptors.
        let sockets = limit + ConnectionLimits.overflow(maxConnections: limit)
        return Application(
            router: makeRouter(),
            server: .http1(configuration: http1),
            configuration: .init(
                address: .hostname(configuration.host, port: configuration.port), serverName: "fleetrules",
                availableConnectionsDelegate: MaximumAvailableConnections(sockets, logger: logger)),
            onServerRunning: { channel in onListening(channel.localAddress?.port ?? 0) },
            logger: logger
        )
    }

    public func makeRouter() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: RequestLogMiddleware())
        let host = self.host
        let registry = self.registry
        let limit = configuration.maxBodyBytes
        let token = configuration.token
        let readiness = configuration.readiness
        let controls = configuration.controls ?? Self.memoryControls

        router.get("healthz") { _, _ in Self.json(.object([("status", "ok")])) }
        router.get("readyz") { _, _ in
            let s = await host.status
            return Self.json(
                .object(
                    [
                        ("status", "ready"), ("version", .number(Double(s.version))),
                        ("readings", .number(Double(s.readings))),
                    ] + (readiness?() ?? [])))
        }
        router.get("metrics") { _, _ in
            var buffer: [UInt8] = []
            registry.emit(into: &buffer)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: buffer)))
        }

        router.post("v1/telemetry") { request, _ in
            if let denied = Self.authorize(request, token) { return denied }
            let body: [UInt8]
            switch await Self.collect(request, limit: limit) {
            case .success(let b): body = b
            case .failure(let e): return e.response
            }
            let lines: (bytes: [UInt8], lineNumbers: [Int]?)
            switch TelemetryBody.lines(body) {
            case .success(let l): lines = l
            case .failure(let e): return Self.badBody(e)
            }
            // 400 (nothing ingested) when no line is a reading, or with ?strict=true when any line
            // is malformed; otherwise malformed lines are counted rejections, as in `run`.
            let strict = request.uri.queryParameters["strict"].map { $0 == "true" || $0 == "1" } ?? false
            let scan = TelemetryBody.scan(lines.bytes, lineNumbers: lines.lineNumbers)
            if scan.lines == 0 {
                return Self.error(
                    .badRequest, "empty_body", "the body holds no readings: send JSON Lines or a JSON array of readings"
                )
            }
            if let e = scan.first, strict || scan.nothingReadable { return Self.badBody(e) }
            let result = try await host.ingest(lines: lines.bytes, lineNumbers: lines.lineNumbers)
            let s = result.summary
            return Self.json(
                .object([
                    ("lines", .number(Double(s.lines))), ("accepted", .number(Double(s.accepted))),
                    ("rejected", .number(Double(s.rejected.values.reduce(0, +)))),
                    (
                        "reasons",
                        .object(
                            s.rejected.sorted { $0.key < $1.key }.map { ($0.key.rawValue, .number(Double($0.value))) })
                    ),
                    (
                        "rejections",
                        .array(
                            s.rejections.map {
                                .object([
                                    ("line", .number(Double($0.line))), ("reason", .string($0.reason.rawValue)),
                                    ("message", .string($0.message)),
                                ])
                            })
                    ),
                    ("alert_changes", .number(Double(result.events))),
                ]))
        }

        router.get("v1/report") { _, _ in
            Self.json(Self.marked(await host.report(), host.inventory, controls), pretty: true)
        }
        router.get("v1/alerts") { request, _ in
            let report = Self.marked(await host.report(), host.inventory, controls, ids: true)
            let q = request.uri.queryParameters
            var filters: [(String, String)] = []
            for key in ["severity", "site", "rule"] {
                if let v = q[Substring(key)] { filters.append((key, String(v))) }
            }
            let state = q["state"].map(String.init)
            if let state, state != "firing", state != "resolved" {
                return Self.error(.badRequest, "bad_query", "state must be firing or resolved")
            }
            let alerts = (report["alerts"]?.arrayValue ?? []).filter { a in
                for (k, v) in filters where a[k]?.stringValue != v { return false }
                if let state {
                    let open = a["until"] == JSONValue.null
                    if (state == "firing") != open { return false }
                }
                return true
            }
            return Self.json(.object([("alerts", .array(alerts))]))
        }
        @Sendable func section(_ name: String) async -> Response {
            let report = await host.report().json()
            return Self.json(.object([(name, report[name] ?? .null)]))
        }
        router.get("v1/maintenance") { _, _ in await section("maintenance") }
        router.get("v1/rebalancing") { _, _ in await section("rebalancing") }
        router.get("v1/compliance") { _, _ in await section("compliance") }
        router.get("v1/devices/:id") { _, context in
            guard let id = context.parameters.get("id"), let device = await host.explainDevice(id) else {
                return Self.error(.notFound, "unknown_device", "no such device in the inventory")
            }
            let report = await host.report().json()
            let alerts = (report["alerts"]?.arrayValue ?? []).filter { $0["device"]?.stringValue == id }
            return Self.json(
                .object([
                    ("device", .string(id)),
                    ("inventory", .object(device.row.map { ($0.0, .string($0.1)) })),
                    ("alerts", .array(alerts)),
                    ("firing", .array(alerts.filter { $0["until"] == JSONValue.null })),
                    ("rules", .array(device.rules)),
                ]))
        }

        router.get("v1/silences") { _, _ in
            let now = Date().timeIntervalSince1970
            return Self.json(.array(controls.allSilences().map { $0.json(now: now) }))
        }
        router.post("v1/silences") { request, _ in
            if let denied = Self.authorize(request, token) { return denied }
            return await Self.postSilence(request, limit: limit, controls)
        }
        router.get("v1/silences/:id") { _, context in
            guard let id = context.parameters.get("id"), let silence = controls.silence(id) else {
                return Self.error(.notFound, "unknown_silence", "no silence with this id")
            }
            return Self.json(silence.json(now: Date().timeIntervalSince1970))
        }
        router.delete("v1/silences/:id") { request, context in
            if let denied = Self.authorize(request, token) { return denied }
            let now = Date().timeIntervalSince1970
            guard let id = context.parameters.get("id"), let silence = try controls.expire(id, now: now) else {
                return Self.error(.notFound, "unknown_silence", "no silence with this id")
            }
            return Self.json(silence.json(now: now))
        }
        router.post("v1/alerts/:id/ack") { request, context in
            if let denied = Self.authorize(request, token) { return denied }
            return await Self.acknowledge(
                request, id: context.parameters.get("id") ?? "", limit: limit, host: host, controls)
        }

        router.get("v1/rules") { _, _ in
            let s = await host.status
            return Self.json(
                .object([
                    ("active", .number(Double(s.version))),
                    (
                        "versions",
                        .array(
                            s.versions.map { v in
                                .object([
                                    ("version", .number(Double(v.number))), ("origin", .string(v.origin)),
                                    ("loaded_at", .string(Timestamp.format(v.loadedAt.timeIntervalSince1970))),
                                    ("files", .array(v.sources.map { .string($0.file) })),
                                    ("rules", .array(v.plan.operators.map { .string($0.rule.id) })),
                                ])
                            })
                    ),
                    ("journal_bytes", .number(Double(s.journalBytes))),
                    ("journal_horizon_seconds", .number(s.horizon)),
                ]))
        }
        router.post("v1/rules/validate") { request, _ in
            if let denied = Self.authorize(request, token) { return denied }
            switch await Self.sources(request, limit: limit) {
            case .failure(let e): return e.response
            case .success(nil):
                return Self.error(.badRequest, "empty_body", "send a pack: YAML, or JSON {\"files\": {name: text}}")
            case .success(let sources?):
                let check = host.validate(sources)
                return Self.json(check.json(), status: check.policy == nil ? .unprocessableContent : .ok)
            }
        }
        router.post("v1/rules") { request, _ in
            if let denied = Self.authorize(request, token) { return denied }
            let outcome: ReloadOutcome
            switch await Self.sources(request, limit: limit) {
            case .failure(let e): return e.response
            case .success(nil): outcome = await host.reloadFromDisk(origin: "http")
            case .success(let sources?): outcome = await host.reload(sources, origin: "http")
            }
            return Self.reloadResponse(outcome)
        }
        router.post("v1/rules/rollback") { request, _ in
            if let denied = Self.authorize(request, token) { return denied }
            return Self.reloadResponse(await host.rollback())
        }
        return router
    }

    // MARK: helpers

    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok, pretty: Bool = false) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(string: value.serialized(pretty: pretty) + "\n")))
    }

    static func error(
        _ status: HTTPResponse.Status, _ code: String, _ message: String, extra: [(String, JSONValue)] = []
    )
        -> Response
    {
        Response(
            status: status, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: errorBody(code, message, extra: extra)))
    }

    /// The JSON of every error answer: `{"error": code, "message": …}` and any extra fields.
    static func errorBody(_ code: String, _ message: String, extra: [(String, JSONValue)] = []) -> ByteBuffer {
        let value = JSONValue.object([("error", .string(code)), ("message", .string(message))] + extra)
        return ByteBuffer(string: value.serialized(pretty: false) + "\n")
    }

    static func badBody(_ e: TelemetryBody.SyntaxError) -> Response {
        error(.badRequest, "malformed", e.message, extra: [("line", .number(Double(e.line)))])
    }

    /// 401 unless the request carries `Authorization: Bearer <token>` (when a token is set). The
    /// scheme name is case-insensitive (RFC 7235): `bearer` and `BEARER` are the same scheme.
    static func authorize(_ request: Request, _ token: String?) -> Response? {
        guard let token else { return nil }
        guard let presented = bearerCredentials(request.headers[.authorization] ?? ""),
            constantTimeEqual(presented, token)
        else {
            var r = error(.unauthorized, "unauthorized", "a valid bearer token is required")
            r.headers[.wwwAuthenticate] = "Bearer realm=\"fleetrules\""
            return r
        }
        return nil
    }

    /// The token of an `Authorization` value whose scheme is Bearer (in any case), after the
    /// spaces that separate it from the scheme; nil for any other scheme.
    static func bearerCredentials(_ header: String) -> String? {
        let scheme = header.prefix { $0 != " " }
        guard scheme.lowercased() == "bearer" else { return nil }
        let rest = header.dropFirst(scheme.count)
        guard rest.first == " " else { return nil }
        return String(rest.drop { $0 == " " })
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        var diff = UInt8(x.count == y.count ? 0 : 1)
        for i in 0..<max(x.count, y.count) { diff |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0) }
        return diff == 0
    }

    /// The whole body, or a 413 when it is over `limit`.
    static func collect(_ request: Request, limit: Int) async -> Result<[UInt8], ResponseError> {
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
            return .failure(ResponseError(tooLarge(limit)))
        }
        do {
            var buffer = try await request.body.collect(upTo: limit)
            return .success(buffer.readBytes(length: buffer.readableBytes) ?? [])
        } catch is NIOTooManyBytesError {
            return .failure(ResponseError(tooLarge(limit)))
        } catch {
            return .failure(ResponseError(Self.error(.badRequest, "unreadable_body", "\(error)")))
        }
    }

    static func tooLarge(_ limit: Int) -> Response {
        error(
            .contentTooLarge, "too_large", "the body is over the limit of \(limit) bytes",
            extra: [("limit", .number(Double(limit)))])
    }

    struct ResponseError: Error {
        var response: Response
        init(_ r: Response) { response = r }
    }

    /// A pack in a request body: JSON `{"files": {"name.yaml": "text", ...}}` or one YAML file
    /// (named by `?file=`, default `request.yaml`); nil for an empty body.
    static func sources(_ request: Request, limit: Int) async -> Result<
        [(file: String, bytes: [UInt8])]?, ResponseError
    > {
        let body: [UInt8]
        switch await collect(request, limit: limit) {
        case .success(let b): body = b
        case .failure(let e): return .failure(e)
        }
        if body.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { return .success(nil) }
        let isJSON = request.headers[.contentType]?.hasPrefix("application/json") ?? false
        guard isJSON else {
            let name = request.uri.queryParameters["file"].map(String.init) ?? "request.yaml"
            return .success([(name, body)])
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
            let files = object["files"] as? [String: Any], !files.isEmpty
        else {
            return .failure(
                ResponseError(
                    error(.badRequest, "bad_pack", "expected JSON {\"files\": {\"name.yaml\": \"text\", ...}}")))
        }
        var out: [(file: String, bytes: [UInt8])] = []
        for (name, text) in files.sorted(by: { $0.key < $1.key }) {
            guard let text = text as? String else {
                return .failure(ResponseError(error(.badRequest, "bad_pack", "file '\(name)' must be a string")))
            }
            out.append((name, Array(text.utf8)))
        }
        return .success(out)
    }

    static func reloadResponse(_ outcome: ReloadOutcome) -> Response {
        switch outcome {
        case .reloaded(let version, let diff, let replayed):
            return json(
                .object([
                    ("version", .number(Double(version))), ("replayed_readings", .number(Double(replayed))),
                    (
                        "rules",
                        .object([
                            ("unchanged", .array(diff.unchanged.map { .string($0) })),
                            ("changed", .array(diff.changed.map { .string($0) })),
                            ("added", .array(diff.added.map { .string($0) })),
                            ("removed", .array(diff.removed.map { .string($0) })),
                        ])
                    ),
                ]))
        case .rejected(let check):
            return json(
                .object(
                    [("error", "invalid_pack"), ("message", "the pack has errors; the running version stays")]
                        + {
                            if case .object(let fields) = check.json() { return fields }
                            return []
                        }()), status: .unprocessableContent)
        case .unreadable(let message):
            return error(.internalServerError, "unreadable_rules", message)
        case .noPreviousVersion:
            return error(.conflict, "no_previous_version", "the active version is the first one")
        }
    }
}

extension JSONValue {
    subscript(key: String) -> JSONValue? {
        if case .object(let fields) = self { return fields.first { $0.0 == key }?.1 }
        return nil
    }
    var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }
    var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }
}

/// Gives every request an id (the client's `X-Request-Id`, or a new one), answers with it and
/// logs one line per request with method, path, status and duration.
struct RequestLogMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        let start = ContinuousClock.now
        var context = context
        let id = request.headers[.requestID] ?? context.id
        context.logger[metadataKey: "request_id"] = .string(id)
        func log(_ status: HTTPResponse.Status) {
            let elapsed = ContinuousClock.now - start
            let ms = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
            context.logger.info(
                "request",
                metadata: [
                    "method": "\(request.method)", "path": "\(request.uri.path)", "status": "\(status.code)",
                    "ms": "\(String(format: "%.2f", ms))",
                ])
        }
        do {
            var response = try await next(request, context)
            response.headers[.requestID] = id
            log(response.status)
            return response
        } catch let error as HTTPResponseError {
            var response = try error.response(from: request, context: context)
            response.headers[.requestID] = id
            log(response.status)
            return response
        }
    }
}

extension HTTPFields.Element.Name {
    /// A valid header name, so the initialiser cannot fail.
    static let requestID = HTTPFields.Element.Name("X-Request-Id") ?? .via
}
