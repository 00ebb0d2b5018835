import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A real Mosquitto broker on a free loopback port, with a generated configuration and its own
/// persistence directory (so it can be stopped and started again with its sessions). Tests that
/// use it are skipped when Mosquitto is not installed (`make mqtt-deps` installs it).
final class MosquittoBroker {
    static let binary: String? = TestProcess.locate(
        "mosquitto", in: ["/usr/sbin", "/usr/local/sbin", "/opt/homebrew/sbin"])
    static let publisher: String? = TestProcess.locate(
        "mosquitto_pub", in: ["/usr/bin", "/usr/local/bin", "/opt/homebrew/bin"])
    static let subscriber: String? = TestProcess.locate(
        "mosquitto_sub", in: ["/usr/bin", "/usr/local/bin", "/opt/homebrew/bin"])
    static var available: Bool { binary != nil && publisher != nil && subscriber != nil }

    let port: Int
    let directory: URL
    private var process: TestProcess?

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// `configuration`: a Mosquitto configuration to start from instead of the generated one; its
    /// `listener 1883` and `persistence_location` are pointed at the free port and the temporary directory.
    init(configuration: String? = nil) async throws {
        port = try Loopback.freePort()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("mosquitto-\(UUID().uuidString)")
        // Mosquitto started as root runs as the `mosquitto` user: it must be able to write here.
        try FileManager.default.createDirectory(
            at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o777])
        let generated = """
            listener \(port) 127.0.0.1
            allow_anonymous true
            persistence true
            persistence_location \(directory.path)/
            autosave_interval 0
            max_inflight_messages 1000
            max_queued_messages 0
            max_queued_bytes 0
            log_dest file \(directory.path)/broker.log

            """
        let config =
            configuration.map {
                $0.replacingOccurrences(of: "listener 1883", with: "listener \(port)")
                    .replacingOccurrences(
                        of: "persistence_location .fleetrules/mosquitto/",
                        with: "persistence_location \(directory.path)/")
                    + "\nlog_dest file \(directory.path)/broker.log\n"
            } ?? generated
        try config.write(to: directory.appendingPathComponent("mosquitto.conf"), atomically: true, encoding: .utf8)
        try await start()
    }

    var url: String { "mqtt://127.0.0.1:\(port)" }
    var log: String { (try? String(contentsOf: directory.appendingPathComponent("broker.log"), encoding: .utf8)) ?? "" }

    /// Starts the broker and waits until it accepts connections.
    func start() async throws {
        guard let binary = Self.binary else { throw Failure(description: "mosquitto is not installed") }
        let child = try TestProcess(
            binary, ["-c", directory.appendingPathComponent("mosquitto.conf").path],
            output: directory.appendingPathComponent("mosquitto.out"))
        process = child
        let port = self.port
        do {
            try await child.waitUntilReady { Loopback.canConnect(port: port) }
        } catch {
            throw Failure(description: "mosquitto did not start listening on \(port): \(error) \(log)")
        }
    }

    /// SIGTERM (Mosquitto writes its persistence file) and waits for the exit.
    func stop() {
        process?.stop()
        process = nil
    }

    /// Publishes each line of `lines` as one message (`mosquitto_pub -l`) and returns once the
    /// broker acknowledged them all (QoS 1).
    @discardableResult
    func publishLines(_ lines: String, topic: String, qos: Int = 1) throws -> Int32 {
        try runPublisher(["-t", topic, "-q", "\(qos)", "-l"], stdin: Data(lines.utf8))
    }

    /// Publishes one message whose payload is the file's contents.
    @discardableResult
    func publishFile(_ path: String, topic: String) throws -> Int32 {
        try runPublisher(["-t", topic, "-q", "1", "-f", path], stdin: nil)
    }

    @discardableResult
    func publish(_ payload: String, topic: String) throws -> Int32 {
        try runPublisher(["-t", topic, "-q", "1", "-m", payload], stdin: nil)
    }

    /// Creates a persistent QoS 1 session for `clientID` subscribed to `filter`, so the broker
    /// keeps what is published there until `collect` reads it.
    func openSession(_ clientID: String, filter: String) throws {
        _ = try runSubscriber(["-c", "-i", clientID, "-q", "1", "-t", filter, "-E"])
    }

    /// The next `count` messages of the session, as "topic payload" lines (waits up to `seconds`).
    func collect(_ clientID: String, filter: String, count: Int, seconds: Int = 120) throws -> [String] {
        let out = try runSubscriber([
            "-c", "-i", clientID, "-q", "1", "-t", filter, "-v", "-C", "\(count)", "-W", "\(seconds)",
        ])
        return out.split(separator: "\n").map(String.init)
    }

    private func runSubscriber(_ arguments: [String]) throws -> String {
        guard let subscriber = Self.subscriber else { throw Failure(description: "mosquitto_sub is not installed") }
        let run = try TestProcess.run(
            URL(fileURLWithPath: subscriber), ["-h", "127.0.0.1", "-p", "\(port)"] + arguments)
        return run.stdout
    }

    /// `mosquitto_pub` started in the background, reading lines from a file.
    func publisherProcess(linesFile: String, topic: String) throws -> Process {
        guard let publisher = Self.publisher else { throw Failure(description: "mosquitto_pub is not installed") }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: publisher)
        p.arguments = ["-h", "127.0.0.1", "-p", "\(port)", "-t", topic, "-q", "1", "-l"]
        p.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: linesFile))
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        return p
    }

    private func runPublisher(_ arguments: [String], stdin: Data?) throws -> Int32 {
        guard let publisher = Self.publisher else { throw Failure(description: "mosquitto_pub is not installed") }
        let run = try TestProcess.run(
            URL(fileURLWithPath: publisher), ["-h", "127.0.0.1", "-p", "\(port)"] + arguments, stdin: stdin)
        return run.status
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: directory)
    }
}

/// A raw TCP peer on a free loopback port that plays a broker badly: for every connection it
/// accepts it reads what the client sends, writes `reply`, and closes. Not MQTT software: it
/// sends exactly the bytes a test gives it.
final class RawTCPPeer: @unchecked Sendable {
    let port: Int
    private let fd: Int32
    private let lock = NSLock()
    private var _accepted = 0
    var accepted: Int { lock.withLock { _accepted } }

    init(reply: [UInt8]) throws {
        let (fd, port) = try Loopback.bound(listening: 16)
        self.port = port
        self.fd = fd
        let thread = Thread { [self] in
            while true {
                let client = accept(fd, nil, nil)
                if client < 0 { return }
                lock.withLock { _accepted += 1 }
                var buffer = [UInt8](repeating: 0, count: 4096)
                _ = read(client, &buffer, buffer.count)
                _ = reply.withUnsafeBytes { write(client, $0.baseAddress, reply.count) }
                usleep(100_000)
                close(client)
            }
        }
        thread.start()
    }

    func stop() {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }
}
