import AsyncHTTPClient
import FleetRules
import Foundation
import NIOCore
import NIOHTTP1

/// The sinks' HTTP client: a refused connection fails the attempt at once (the outbox's
/// backoff decides when to try again) instead of AsyncHTTPClient retrying it until the deadline.
public enum DeliveryHTTP {
    public static let client: HTTPClient = {
        var pool = HTTPClient.Configuration.ConnectionPool()
        pool.retryConnectionEstablishment = false
        pool.concurrentHTTP1ConnectionsPerHostSoftLimit = 16
        // A redirect is an answer, not a delivery: it is refused (3xx) rather than followed.
        let configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow, timeout: HTTPClient.Configuration.Timeout(connect: .seconds(5)),
            connectionPool: pool)
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()
}

/// What one send attempt came to.
public enum SendOutcome: Sendable, Equatable {
    case delivered
    /// Worth another try (5xx, 429, 408, timeouts, connection errors), not before `after` seconds when the sink said so.
    case retry(reason: String, after: Double?)
    /// Refused for good (other 4xx): retrying cannot help.
    case refused(reason: String)
}

/// Exponential backoff with "equal jitter": half the step fixed, half random, capped.
public struct Backoff: Sendable {
    public var initial: Double
    public var maximum: Double

    public init(initial: Double, maximum: Double) {
        self.initial = initial
        self.maximum = maximum
    }

    /// The delay before attempt `attempt + 1` after `attempt` failures (1-based).
    public func delay(afterAttempt attempt: Int, random: Double = Double.random(in: 0..<1)) -> Double {
        let step = min(maximum, initial * pow(2, Double(max(0, attempt - 1))))
        return step / 2 + step / 2 * random
    }
}

/// Classifies an HTTP status the way both sinks treat it.
func outcome(status: Int, retryAfter: String?) -> SendOutcome {
    switch status {
    case 200..<300: return .delivered
    case 408, 429, 500..<600:
        return .retry(reason: "HTTP \(status)", after: retryAfter.flatMap(parseRetryAfter))
    default: return .refused(reason: "HTTP \(status)")
    }
}

/// `Retry-After` as delta-seconds or an HTTP date; capped at one hour.
func parseRetryAfter(_ value: String) -> Double? {
    let v = value.trimmingCharacters(in: .whitespaces)
    if let s = Double(v), s >= 0 { return min(s, 3600) }
    let f = DateFormatter()
    f.locale = Locale(identifier: "en_US_POSIX")
    f.timeZone = TimeZone(identifier: "GMT")
    f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
    if let d = f.date(from: v) { return min(max(0, d.timeIntervalSinceNow), 3600) }
    return nil
}

/// Posts a notification's JSON, signed in the Standard Webhooks style.
public struct WebhookSink: Sendable {
    public var client: HTTPClient

    public init(client: HTTPClient = DeliveryHTTP.client) { self.client = client }

    public func send(_ m: OutboxMessage, secret: String, timeout: Double, now: Double = Date().timeIntervalSince1970)
        async
        -> SendOutcome
    {
        let body = Array(m.payload.utf8)
        let ts = Int(now)
        var request = HTTPClientRequest(url: m.target)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.headers.add(name: "user-agent", value: "fleetrules-delivery/1")
        request.headers.add(name: "webhook-id", value: m.id)
        request.headers.add(name: "webhook-timestamp", value: String(ts))
        request.headers.add(
            name: "webhook-signature", value: WebhookSignature.sign(id: m.id, timestamp: ts, body: body, secret: secret)
        )
        request.headers.add(name: "idempotency-key", value: m.id)
        request.body = .bytes(ByteBuffer(bytes: body))
        return await execute(client, request, timeout: timeout)
    }
}

/// Sends an SMS page message to the gateway's HTTP API, already split into segments.
public struct SMSSink: Sendable {
    public var client: HTTPClient

    public init(client: HTTPClient = DeliveryHTTP.client) { self.client = client }

    public func send(_ m: OutboxMessage, gateway: String, timeout: Double = 10) async -> SendOutcome {
        let enc = SMSEncoding.encode(m.payload)
        let body = JSONValue.object([
            ("reference", .string(m.id)),
            ("to", .string(m.target)),
            ("text", .string(m.payload)),
            ("encoding", .string(enc.alphabet.rawValue)),
            ("segments", .array(enc.segments.map { .string($0) })),
        ]).serialized(pretty: false)
        var request = HTTPClientRequest(url: Self.join(gateway, "messages"))
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.headers.add(name: "idempotency-key", value: m.id)
        request.body = .bytes(ByteBuffer(bytes: Array(body.utf8)))
        return await execute(client, request, timeout: timeout)
    }

    /// Replies received by the gateway after `cursor`: (sequence, from, text).
    public func inbound(gateway: String, after cursor: Int) async throws -> [(seq: Int, from: String, text: String)] {
        var request = HTTPClientRequest(url: Self.join(gateway, "inbound?after=\(cursor)"))
        request.method = .GET
        let response = try await client.execute(request, timeout: .seconds(5))
        let bytes = try await response.body.collect(upTo: 8 << 20)
        guard response.status.code == 200,
            let json = try? JSONSerialization.jsonObject(with: Data(buffer: bytes)) as? [[String: Any]]
        else { return [] }
        return json.compactMap { o in
            guard let seq = o["seq"] as? Int, let from = o["from"] as? String, let text = o["text"] as? String else {
                return nil
            }
            return (seq, from, text)
        }
    }

    static func join(_ base: String, _ path: String) -> String {
        base.hasSuffix("/") ? base + path : base + "/" + path
    }

    /// "ACK 4821" (any case, extra words allowed) → "4821".
    public static func ackCode(in reply: String) -> String? {
        let words = reply.uppercased().split(whereSeparator: { !$0.isLetter && !$0.isNumber })
        guard let i = words.firstIndex(of: "ACK"), i + 1 < words.count else { return nil }
        let code = words[i + 1]
        return code.allSatisfy(\.isNumber) ? String(code) : nil
    }
}

func execute(_ client: HTTPClient, _ request: HTTPClientRequest, timeout: Double) async -> SendOutcome {
    do {
        let ms = Int64(max(1, timeout * 1000))
        let response = try await client.execute(request, timeout: .milliseconds(ms))
        // Drain (a little of) the body so the connection can be reused.
        _ = try? await response.body.collect(upTo: 64 << 10)
        return outcome(status: Int(response.status.code), retryAfter: response.headers.first(name: "retry-after"))
    } catch let e as HTTPClientError where e == .deadlineExceeded || e == .readTimeout || e == .connectTimeout {
        return .retry(reason: "timeout", after: nil)
    } catch {
        return .retry(reason: "connection: \(error)", after: nil)
    }
}

extension Data {
    init(buffer: ByteBuffer) {
        self.init(buffer.readableBytesView)
    }
}
