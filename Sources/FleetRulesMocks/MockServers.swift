import AsyncHTTPClient
import FleetRules
import FleetRulesDelivery
import Foundation
import Hummingbird
import Logging
import NIOCore

/// Appends one JSON line per record to a file (the mocks' persistence) and reads them back.
struct JSONLinesStore: Sendable {
    let path: String?

    func load() -> [[String: Any]] {
        guard let path, let data = FileManager.default.contents(atPath: path) else { return [] }
        return data.split(separator: UInt8(ascii: "\n")).compactMap {
            try? JSONSerialization.jsonObject(with: Data($0)) as? [String: Any]
        }
    }

    func append(_ value: JSONValue) {
        guard let path else { return }
        let line = Data((value.serialized(pretty: false) + "\n").utf8)
        if let h = FileHandle(forWritingAtPath: path) {
            h.seekToEndOfFile()
            h.write(line)
            try? h.close()
        } else {
            _ = FileManager.default.createFile(atPath: path, contents: line)
        }
    }
}

/// Foundation's parsed JSON back into a JSONValue (keys sorted).
func jsonValue(_ any: Any) -> JSONValue {
    switch any {
    case let s as String: return .string(s)
    case let n as NSNumber: return .number(n.doubleValue)  // the mocks store no booleans
    case let a as [Any]: return .array(a.map(jsonValue))
    case let o as [String: Any]: return .object(o.sorted { $0.key < $1.key }.map { ($0.key, jsonValue($0.value)) })
    default: return .null
    }
}

func jsonResponse(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
    Response(
        status: status, headers: [.contentType: "application/json"],
        body: ResponseBody(byteBuffer: ByteBuffer(string: value.serialized(pretty: false) + "\n")))
}

/// Starts a Hummingbird app on 127.0.0.1:`port` (0 picks a free one) and prints
/// `listening on 127.0.0.1:PORT` once it accepts connections; runs until SIGINT/SIGTERM.
func serve(_ router: Hummingbird.Router<BasicRequestContext>, name: String, port: Int) async throws {
    var logger = Logger(label: name)
    logger.logLevel = .warning
    let app = Application(
        router: router,
        configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: port), serverName: name),
        onServerRunning: { channel in
            let p = channel.localAddress?.port ?? port
            FileHandle.standardOutput.write(Data("\(name) listening on 127.0.0.1:\(p)\n".utf8))
        },
        logger: logger)
    try await app.runService()
}

// MARK: webhook receiver

/// A faulty answer the receiver gives to the next requests, in order (`--inject 500,429,timeout`).
public enum Injection: Sendable, Equatable {
    case status(Int)
    /// Holds the request longer than any sane client timeout, then answers 200 to nobody.
    case timeout

    public init?(_ text: String) {
        if text == "timeout" {
            self = .timeout
        } else if let code = Int(text), (100...599).contains(code) {
            self = .status(code)
        } else {
            return nil
        }
    }
}

/// `fleetrules webhook-receiver`: verifies Standard Webhooks signatures and stores what it got.
public actor WebhookReceiver {
    let secret: String
    let store: JSONLinesStore
    var injections: [Injection]
    let delay: Double
    let holdSeconds: Double
    var received = 0
    var rejected = 0
    var ids: [String] = []
    var seen: Set<String> = []

    public init(secret: String, storePath: String?, inject: [Injection], delay: Double, holdSeconds: Double = 5) {
        self.secret = secret
        store = JSONLinesStore(path: storePath)
        injections = inject
        self.delay = delay
        self.holdSeconds = holdSeconds
        for o in store.load() {
            if let id = o["id"] as? String {
                received += 1
                if seen.insert(id).inserted { ids.append(id) }
            }
        }
    }

    func handle(id: String?, timestamp: String?, signature: String?, body: [UInt8]) async -> Response {
        if delay > 0 { try? await Task.sleep(nanoseconds: UInt64(delay * 1e9)) }
        if !injections.isEmpty {
            let next = injections.removeFirst()
            switch next {
            case .timeout:
                try? await Task.sleep(nanoseconds: UInt64(holdSeconds * 1e9))
                return jsonResponse(.object([("injected", .string("timeout"))]))
            case .status(let code):
                var r = jsonResponse(
                    .object([("injected", .number(Double(code)))]), status: HTTPResponse.Status(code: code))
                if code == 429 || code == 503 { r.headers[.retryAfter] = "1" }
                return r
            }
        }
        let verdict = WebhookSignature.verify(
            id: id, timestamp: timestamp, signature: signature, body: body, secret: secret)
        guard verdict == .valid, let id else {
            rejected += 1
            return jsonResponse(.object([("error", .string("signature: \(verdict)"))]), status: .unauthorized)
        }
        received += 1
        let duplicate = !seen.insert(id).inserted
        if !duplicate { ids.append(id) }
        let parsed = (try? JSONSerialization.jsonObject(with: Data(body))) != nil
        store.append(
            .object([
                ("id", .string(id)), ("received_at", .number(Date().timeIntervalSince1970)),
                ("duplicate", .bool(duplicate)),
                ("json", .bool(parsed)), ("body", .string(String(decoding: body, as: UTF8.self))),
            ]))
        return jsonResponse(.object([("ok", .bool(true)), ("duplicate", .bool(duplicate))]))
    }

    func summary() -> JSONValue {
        .object([
            ("received", .number(Double(received))), ("unique", .number(Double(ids.count))),
            ("rejected", .number(Double(rejected))), ("ids", .array(ids.map { .string($0) })),
        ])
    }

    public func run(port: Int) async throws {
        let router = Hummingbird.Router()
        let handler: @Sendable (Request, BasicRequestContext) async throws -> Response = { request, _ in
            var request = request
            let body = try await request.collectBody(upTo: 16 << 20)
            let h = request.headers
            return await self.handle(
                id: h.first { $0.name.canonicalName == "webhook-id" }?.value,
                timestamp: h.first { $0.name.canonicalName == "webhook-timestamp" }?.value,
                signature: h.first { $0.name.canonicalName == "webhook-signature" }?.value,
                body: Array(body.readableBytesView))
        }
        router.post("/", use: handler)
        router.post("**", use: handler)
        router.get("/received") { _, _ in await jsonResponse(self.summary()) }
        try await serve(router, name: "webhook-receiver", port: port)
    }
}

// MARK: SMS gateway

/// `fleetrules sms-gateway`: a mock SMS provider. POST /messages sends (202 with an id and the
/// segment count), GET /messages lists, GET /receipts gives delivery receipts, POST /inbound
/// simulates a reply from a phone, GET /inbound?after=N lists replies after sequence N.
public actor SMSGateway {
    let store: JSONLinesStore
    var messages: [JSONValue] = []
    var inbound: [(seq: Int, from: String, text: String)] = []

    public init(storePath: String?) {
        store = JSONLinesStore(path: storePath)
        for o in store.load() {
            if o["type"] as? String == "inbound", let seq = o["seq"] as? Int, let from = o["from"] as? String,
                let text = o["text"] as? String
            {
                inbound.append((seq, from, text))
            } else if o["type"] as? String == "message" {
                messages.append(jsonValue(o))
            }
        }
    }

    func send(_ body: [UInt8]) -> Response {
        guard let o = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any],
            let to = o["to"] as? String, let text = o["text"] as? String
        else {
            return jsonResponse(.object([("error", .string("need JSON with to and text"))]), status: .badRequest)
        }
        guard to.hasPrefix("+"), to.dropFirst().allSatisfy(\.isNumber), (8...15).contains(to.count - 1) else {
            return jsonResponse(
                .object([("error", .string("'to' is not an E.164 number"))]), status: .unprocessableContent)
        }
        let segments = (o["segments"] as? [String]) ?? [text]
        let encoding = (o["encoding"] as? String) ?? SMSEncoding.encode(text).alphabet.rawValue
        let id = "m-\(messages.count + 1)"
        let record = JSONValue.object([
            ("type", .string("message")), ("id", .string(id)), ("reference", .string(o["reference"] as? String ?? "")),
            ("to", .string(to)), ("text", .string(text)), ("encoding", .string(encoding)),
            ("segments", .array(segments.map { .string($0) })), ("status", .string("delivered")),
            ("received_at", .number(Date().timeIntervalSince1970)),
        ])
        messages.append(record)
        store.append(record)
        return jsonResponse(
            .object([
                ("id", .string(id)), ("status", .string("accepted")), ("segments", .number(Double(segments.count))),
            ]),
            status: .accepted)
    }

    func reply(_ body: [UInt8]) -> Response {
        guard let o = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any],
            let from = o["from"] as? String, let text = o["text"] as? String
        else {
            return jsonResponse(.object([("error", .string("need JSON with from and text"))]), status: .badRequest)
        }
        let seq = (inbound.last?.seq ?? 0) + 1
        inbound.append((seq, from, text))
        store.append(
            .object([
                ("type", .string("inbound")), ("seq", .number(Double(seq))), ("from", .string(from)),
                ("text", .string(text)),
            ]))
        return jsonResponse(.object([("seq", .number(Double(seq)))]), status: .accepted)
    }

    func list() -> JSONValue { .array(messages) }

    func receipts() -> JSONValue {
        .array(
            messages.compactMap { m -> JSONValue? in
                guard case .object(let f) = m else { return nil }
                let keep = f.filter { ["id", "reference", "status"].contains($0.0) }
                return .object(keep)
            })
    }

    func replies(after n: Int) -> JSONValue {
        .array(
            inbound.filter { $0.seq > n }.map {
                .object([("seq", .number(Double($0.seq))), ("from", .string($0.from)), ("text", .string($0.text))])
            })
    }

    public func run(port: Int) async throws {
        let router = Hummingbird.Router()
        router.post("/messages") { request, _ in
            var request = request
            let body = try await request.collectBody(upTo: 1 << 20)
            return await self.send(Array(body.readableBytesView))
        }
        router.get("/messages") { _, _ in await jsonResponse(self.list()) }
        router.get("/receipts") { _, _ in await jsonResponse(self.receipts()) }
        router.post("/inbound") { request, _ in
            var request = request
            let body = try await request.collectBody(upTo: 1 << 20)
            return await self.reply(Array(body.readableBytesView))
        }
        router.get("/inbound") { request, _ in
            let after = request.uri.queryParameters.get("after", as: Int.self) ?? 0
            return await jsonResponse(self.replies(after: after))
        }
        try await serve(router, name: "sms-gateway", port: port)
    }
}

/// Plain HTTP calls to the mocks (tests, demos): GET and POST with a JSON body.
public enum MockClient {
    public static func get(_ url: String) async throws -> (status: Int, body: [UInt8]) {
        var request = HTTPClientRequest(url: url)
        request.method = .GET
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 64 << 20)
        return (Int(response.status.code), Array(body.readableBytesView))
    }

    public static func post(_ url: String, json: String) async throws -> (status: Int, body: [UInt8]) {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: json))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 64 << 20)
        return (Int(response.status.code), Array(body.readableBytesView))
    }
}
