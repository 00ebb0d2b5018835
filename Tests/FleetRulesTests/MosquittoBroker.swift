import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

#if canImport(Glibc)
    let streamSocket = Int32(SOCK_STREAM.rawValue)
#else
    let streamSocket = SOCK_STREAM
#endif

/// A real Mosquitto broker on a free loopback port, with a generated configuration and its own
/// persistence directory (so it can be stopped and started again with its sessions). Tests that
/// use it are skipped when Mosquitto is not installed (`make mqtt-deps` installs it).
final class MosquittoBroker {
    static let binary: String? = locate("mosquitto", in: ["/usr/sbin", "/usr/local/sbin", "/opt/homebrew/sbin"])
    static let publisher: String? = locate("mosquitto_pub", in: ["/usr/bin", "/usr/local/bin", "/opt/homebrew/bin"])
    static var available: Bool { binary != nil && publisher != nil && subscriber != nil }

    let port: Int
    let directory: URL
    private var pid: pid_t?

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// `configuration`: a Mosquitto configuration to start from instead of the generated one; its
    /// `listener 1883` and `persistence_location` are pointed at the free port and the temporary directory.
    init(configuration: String? = nil) throws {
        port = try Self.freePort()
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
        try start()
    }

    var url: String { "mqtt://127.0.0.1:\(port)" }
    var log: String { (try? String(contentsOf: directory.appendingPathComponent("broker.log"), encoding: .utf8)) ?? "" }

    /// Starts the broker and waits until it accepts connections.
    func start() throws {
        guard let binary = Self.binary else { throw Failure(description: "mosquitto is not installed") }
        let child = try Self.spawn(binary, ["-c", directory.appendingPathComponent("mosquitto.conf").path])
        pid = child
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if Self.canConnect(port: port) { return }
            var status: Int32 = 0
            if waitpid(child, &status, WNOHANG) == child {
                pid = nil
                throw Failure(description: "mosquitto exited: \(log)")
            }
            usleep(50_000)
        }
        throw Failure(description: "mosquitto did not start listening on \(port): \(log)")
    }

    /// SIGTERM (Mosquitto writes its persistence file) and waits for the exit.
    func stop() {
        guard let child = pid else { return }
        kill(child, SIGTERM)
        var status: Int32 = 0
        while waitpid(child, &status, 0) < 0 && errno == EINTR {}
        pid = nil
    }

    /// posix_spawn with every signal unblocked and at its default action: a child started by
    /// `Process` from a test thread inherits that thread's blocked SIGTERM, and Mosquitto never
    /// unblocks it.
    static func spawn(_ path: String, _ arguments: [String]) throws -> pid_t {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        var child: pid_t = 0
        let result = posix_spawn(&child, path, &actions, &attributes, argv, environ)
        guard result == 0 else { throw Failure(description: "cannot start \(path): error \(result)") }
        return child
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

    static let subscriber: String? = locate("mosquitto_sub", in: ["/usr/bin", "/usr/local/bin", "/opt/homebrew/bin"])

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
        let p = Process()
        p.executableURL = URL(fileURLWithPath: subscriber)
        p.arguments = ["-h", "127.0.0.1", "-p", "\(port)"] + arguments
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
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
        let p = Process()
        p.executableURL = URL(fileURLWithPath: publisher)
        p.arguments = ["-h", "127.0.0.1", "-p", "\(port)"] + arguments
        let input = Pipe()
        p.standardInput = input
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        if let stdin { input.fileHandleForWriting.write(stdin) }
        try input.fileHandleForWriting.close()
        p.waitUntilExit()
        return p.terminationStatus
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: directory)
    }

    static func locate(_ name: String, in folders: [String]) -> String? {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        for folder in path + folders {
            let candidate = "\(folder)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// A port the kernel reports free on 127.0.0.1.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, streamSocket, 0)
        guard fd >= 0 else { throw Failure(description: "socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0 else { throw Failure(description: "bind() failed") }
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { throw Failure(description: "getsockname() failed") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    static func canConnect(port: Int) -> Bool {
        let fd = socket(AF_INET, streamSocket, 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        return result == 0
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
        let fd = socket(AF_INET, streamSocket, 0)
        guard fd >= 0 else { throw MosquittoBroker.Failure(description: "socket() failed") }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0, listen(fd, 16) == 0 else {
            close(fd)
            throw MosquittoBroker.Failure(description: "bind()/listen() failed")
        }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
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
