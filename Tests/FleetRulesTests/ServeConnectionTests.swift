import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A plain TCP connection to the server, for what an HTTP client library hides: connections
/// that send nothing or half a request, `100 Continue`, the server closing the connection.
final class RawConnection {
    private(set) var fd: Int32
    private(set) var received: [UInt8] = []
    /// The server closed the connection (end of stream or reset).
    private(set) var closed = false

    init(port: Int) throws {
        fd = try Loopback.connect(port: port)
    }

    /// Closes the client's end.
    func hangUp() {
        guard fd >= 0 else { return }
        #if canImport(Glibc)
            _ = Glibc.close(fd)
        #else
            _ = Darwin.close(fd)
        #endif
        fd = -1
    }

    deinit { hangUp() }

    var text: String { String(decoding: received, as: UTF8.self) }

    /// Sends the bytes; false when the server has closed the connection.
    @discardableResult
    func send(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            #if canImport(Glibc)
                let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            #else
                let n = bytes[sent...].withUnsafeBytes { Darwin.send(fd, $0.baseAddress, $0.count, 0) }
            #endif
            if n <= 0 { return false }
            sent += n
        }
        return true
    }

    /// Reads what arrives until `done(text so far)`, the server closes, or `seconds` pass.
    func read(for seconds: Double, until done: (String) -> Bool = { _ in false }) {
        let deadline = Date().addingTimeInterval(seconds)
        while fd >= 0, !closed, !done(text) {
            let left = deadline.timeIntervalSinceNow
            if left <= 0 { return }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, Int32(min(left, 0.1) * 1000) + 1) > 0 else { continue }
            var buffer = [UInt8](repeating: 0, count: 65_536)
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 {
                closed = true
            } else {
                received.append(contentsOf: buffer[0..<n])
            }
        }
    }

    /// One whole response (head and `Content-Length` body) has arrived.
    static func hasResponse(_ text: String) -> Bool {
        guard let end = text.range(of: "\r\n\r\n") else { return false }
        let head = text[..<end.lowerBound].lowercased()
        guard let line = head.split(separator: "\r\n").first(where: { $0.hasPrefix("content-length:") }),
            let length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces))
        else { return true }
        return text[end.upperBound...].utf8.count >= length
    }
}

/// The server's connection handling, over real sockets: idle and read timeouts, the connection
/// limit, `Expect: 100-continue`, running out of file descriptors.
@Suite(.serialized) struct ServeConnectionTests {
    static func getHealthz(_ port: Int) throws -> RawConnection {
        let c = try RawConnection(port: port)
        c.send("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        c.read(for: 5, until: RawConnection.hasResponse)
        return c
    }

    /// Connections that send nothing, half a request head, or a body that trickles in are
    /// closed by the server after `--idle-timeout`; a fresh connection is still served.
    @Test func idleAndSlowConnectionsAreClosedAfterTheIdleTimeout() async throws {
        let (rules, inventory) = try ServeFixture.files()
        let server = try ServeProcess(["--rules", rules, "--inventory", inventory, "--idle-timeout", "500ms"])
        defer { server.stop() }
        let silent = try RawConnection(port: server.port)
        let halfHead = try RawConnection(port: server.port)
        halfHead.send("GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
        let trickle = try RawConnection(port: server.port)
        trickle.send("POST /v1/telemetry HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n")
        // One byte of body every 100 ms: never idle for long, but never whole either.
        for _ in 0..<30 where !trickle.closed {
            if !trickle.send(" ") { break }
            trickle.read(for: 0.1)
        }
        #expect(trickle.closed)
        silent.read(for: 3)
        halfHead.read(for: 3)
        #expect(silent.closed)
        #expect(halfHead.closed)
        #expect(silent.received.isEmpty)
        let fresh = try Self.getHealthz(server.port)
        #expect(fresh.text.hasPrefix("HTTP/1.1 200"), "\(fresh.text)")
        // A connection kept alive between requests is closed too once idle.
        fresh.read(for: 3)
        #expect(fresh.closed)
    }

    /// Beyond `--max-connections` a connection's request is answered 503 with Retry-After and
    /// Connection: close, and served again once a connection closes.
    @Test func overTheConnectionLimitRequestsGet503AndTheServerKeepsServing() async throws {
        let (rules, inventory) = try ServeFixture.files()
        let server = try ServeProcess(["--rules", rules, "--inventory", inventory, "--max-connections", "2"])
        defer { server.stop() }
        let held = try (0..<2).map { _ in try RawConnection(port: server.port) }
        // The held connections are counted once the server has accepted them; until then a
        // request is still served, so ask again (a loaded machine may take seconds).
        var refused = try Self.getHealthz(server.port)
        for _ in 0..<200 where !refused.text.hasPrefix("HTTP/1.1 503") {
            try await Task.sleep(for: .milliseconds(100))
            refused = try Self.getHealthz(server.port)
        }
        #expect(refused.text.hasPrefix("HTTP/1.1 503"), "\(refused.text)")
        let head = refused.text.lowercased()
        #expect(head.contains("retry-after: 1\r\n"))
        #expect(head.contains("connection: close\r\n"))
        #expect(refused.text.contains("\"error\":\"over_capacity\""))
        refused.read(for: 3)
        #expect(refused.closed)
        #expect(server.log.contains("connection limit reached"))

        for c in held { c.hangUp() }
        var status = ""
        for _ in 0..<30 where !status.hasPrefix("HTTP/1.1 200") {
            try await Task.sleep(for: .milliseconds(100))
            status = try Self.getHealthz(server.port).text
        }
        #expect(status.hasPrefix("HTTP/1.1 200"), "\(status)")
        let metrics = try await server.get("/metrics")
        #expect(metrics.text.contains("fleetrules_connections_refused_total 1"), "\(metrics.text)")
    }

    /// `Expect: 100-continue` (curl sends it before bodies over 1 MB): `100 Continue` comes
    /// before the body is sent, then the normal answer; a declared length over --max-body gets
    /// 413 at once instead, without the body being sent.
    @Test func expectContinueIsAnsweredBeforeTheBodyIsSent() async throws {
        let (rules, inventory) = try ServeFixture.files()
        let server = try ServeProcess(["--rules", rules, "--inventory", inventory, "--max-body", "4096"])
        defer { server.stop() }
        let body = ServeFixture.reading(0, "d1", 20) + "\n"
        let c = try RawConnection(port: server.port)
        c.send(
            "POST /v1/telemetry HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-ndjson\r\n"
                + "Content-Length: \(body.utf8.count)\r\nExpect: 100-continue\r\n\r\n")
        c.read(for: 3) { $0.contains("\r\n\r\n") }
        #expect(c.text == "HTTP/1.1 100 Continue\r\n\r\n")
        c.send(body)
        c.read(for: 5) { RawConnection.hasResponse(String($0.dropFirst("HTTP/1.1 100 Continue\r\n\r\n".count))) }
        let answer = String(c.text.dropFirst("HTTP/1.1 100 Continue\r\n\r\n".count))
        #expect(answer.hasPrefix("HTTP/1.1 200"), "\(c.text)")
        #expect(answer.contains("\"accepted\":1"))
        // The connection stays usable: a second request with Expect on it.
        let before = c.received.count
        c.send(
            "POST /v1/telemetry HTTP/1.1\r\nHost: localhost\r\nContent-Length: \(body.utf8.count)\r\nExpect: 100-Continue\r\n\r\n"
        )
        c.read(for: 3) { $0.utf8.count > before && $0.hasSuffix("\r\n\r\n") }
        #expect(String(decoding: c.received[before...], as: UTF8.self) == "HTTP/1.1 100 Continue\r\n\r\n")

        let big = try RawConnection(port: server.port)
        big.send(
            "POST /v1/telemetry HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000\r\nExpect: 100-continue\r\n\r\n")
        big.read(for: 3, until: RawConnection.hasResponse)
        #expect(big.text.hasPrefix("HTTP/1.1 413"), "\(big.text)")
        #expect(big.text.contains("\"error\":\"too_large\""))
        big.read(for: 3)
        #expect(big.closed)
    }

    /// A flood of connections under a low `ulimit -n` and a --max-connections over it: the
    /// server stays up and answers again once the clients go.
    @Test func runningOutOfFileDescriptorsDoesNotKillTheServer() async throws {
        let (rules, inventory) = try ServeFixture.files()
        let server = try ServeProcess(
            ["--rules", rules, "--inventory", inventory, "--max-connections", "500", "--idle-timeout", "1s"],
            descriptorLimit: 64)
        defer { server.stop() }
        #expect(server.log.contains("--max-connections is over what the descriptor limit leaves"))
        var flood: [RawConnection] = []
        for _ in 0..<120 { if let c = try? RawConnection(port: server.port) { flood.append(c) } }
        try await Task.sleep(for: .milliseconds(500))
        #expect(server.process.isRunning)
        flood.removeAll()
        var status = ""
        for _ in 0..<50 where !status.hasPrefix("HTTP/1.1 200") {
            try await Task.sleep(for: .milliseconds(200))
            status = (try? Self.getHealthz(server.port).text) ?? ""
        }
        #expect(status.hasPrefix("HTTP/1.1 200"), "\(status)")
        #expect(server.process.isRunning)
        #expect(server.stop() == 0)
    }

    /// A --max-connections over what `ulimit -n` leaves is capped at what it leaves (64
    /// descriptors: 15 served, 1 answered 503), so held connections never use up the process's
    /// descriptors; one out of them would trap in the dispatch library, which must open a file
    /// now and then to watch its threads.
    @Test func connectionsStopShortOfTheDescriptorLimit() async throws {
        let (rules, inventory) = try ServeFixture.files()
        let server = try ServeProcess(
            ["--rules", rules, "--inventory", inventory, "--max-connections", "500", "--idle-timeout", "60s"],
            descriptorLimit: 64)
        defer { server.stop() }
        #expect(server.log.contains("max_connections=15"), "\(server.log)")
        // One connection after the other, each held open once answered, until one is not served.
        var held: [RawConnection] = []
        var served = 0
        var last = ""
        for _ in 0..<120 {
            guard let c = try? RawConnection(port: server.port) else { break }
            held.append(c)
            c.send("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            c.read(for: 5, until: RawConnection.hasResponse)
            last = c.text
            guard last.hasPrefix("HTTP/1.1 200") else { break }
            served += 1
        }
        #expect(served == 15)
        #expect(last.hasPrefix("HTTP/1.1 503"), "\(last)")
        #expect(last.contains("\"error\":\"over_capacity\""))
        #if os(Linux)
            let open = try FileManager.default.contentsOfDirectory(
                atPath: "/proc/\(server.process.processIdentifier)/fd")
            #expect(open.count < 64, "\(open.count) descriptors open")
        #endif
        #expect(server.process.isRunning)
        held.removeAll()
        var status = ""
        for _ in 0..<50 where !status.hasPrefix("HTTP/1.1 200") {
            try await Task.sleep(for: .milliseconds(200))
            status = (try? Self.getHealthz(server.port).text) ?? ""
        }
        #expect(status.hasPrefix("HTTP/1.1 200"), "\(status)")
        #expect(server.stop() == 0)
    }
}
