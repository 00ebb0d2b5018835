import AsyncHTTPClient
import FleetRules
import Foundation
import NIOCore
import NIOHTTP1

/// A client of `fleetrules serve`'s HTTP API (what `fleetrules silence` speaks), with the
/// service's bearer token when it has one.
public struct ServerClient: Sendable {
    public var base: String
    public var token: String?
    public var timeout: Double = 10

    public init(base: String, token: String?) {
        self.base = base.hasSuffix("/") ? String(base.dropLast()) : base
        self.token = token
    }

    public struct Reply: Sendable {
        public var status: Int
        public var text: String
        /// The body as JSON, nil when it is not.
        public var json: JSONValue? { try? JSONValue.parse(text) }
        public var ok: Bool { (200..<300).contains(status) }
        /// The `message` of an error answer, else the body.
        public var message: String {
            if case .string(let m)? = json?["message"] { return m }
            return text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    /// `method`: GET, POST, DELETE, …
    public func send(_ method: String, _ path: String, body: JSONValue? = nil) async throws -> Reply {
        var request = HTTPClientRequest(url: base + path)
        request.method = HTTPMethod(rawValue: method)
        request.headers.add(name: "user-agent", value: "fleetrules-cli/1")
        if let token { request.headers.add(name: "authorization", value: "Bearer \(token)") }
        if let body {
            request.headers.add(name: "content-type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body.serialized(pretty: false)))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .milliseconds(Int64(timeout * 1000)))
        let bytes = try await response.body.collect(upTo: 64 << 20)
        return Reply(status: Int(response.status.code), text: String(buffer: bytes))
    }
}
