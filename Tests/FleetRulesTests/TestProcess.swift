import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// TCP sockets on 127.0.0.1 for the real programs the tests start and the raw peers they play.
enum Loopback {
    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    static func address(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    static func tcpSocket() throws -> Int32 {
        #if canImport(Glibc)
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
            let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw Failure("socket: errno \(errno)") }
        #if canImport(Darwin)
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, socklen_t(MemoryLayout<Int32>.size))
        #endif
        return fd
    }

    /// A socket connected to `port`.
    static func connect(port: Int) throws -> Int32 {
        let fd = try tcpSocket()
        var address = address(port: port)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                #if canImport(Glibc)
                    Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                #else
                    Darwin.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                #endif
            }
        }
        guard result == 0 else {
            let error = errno
            close(fd)
            throw Failure("connect: errno \(error)")
        }
        return fd
    }

    /// Something accepts connections on `port`.
    static func canConnect(port: Int) -> Bool {
        guard let fd = try? connect(port: port) else { return false }
        close(fd)
        return true
    }

    /// A socket bound to a port the kernel picks, listening when `backlog` is given.
    static func bound(listening backlog: Int32? = nil) throws -> (fd: Int32, port: Int) {
        let fd = try tcpSocket()
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = address(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard bound == 0, named == 0, backlog.map({ listen(fd, $0) == 0 }) ?? true else {
            let error = errno
            close(fd)
            throw Failure("bind/getsockname/listen: errno \(error)")
        }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }

    /// A port the kernel just handed out (bound to 127.0.0.1:0, then released).
    static func freePort() throws -> Int {
        let (fd, port) = try bound()
        close(fd)
        return port
    }
}

/// A real program a test runs alongside it (Mosquitto, Alertmanager): started with every signal
/// unblocked and at its default action (a child started by `Process` from a test thread inherits
/// that thread's blocked SIGTERM, and Mosquitto never unblocks it), stdin from /dev/null, stdout
/// and stderr appended to `output`; `stop()` (or the end of the object) sends SIGTERM and waits.
final class TestProcess: @unchecked Sendable {
    let path: String
    /// Where stdout and stderr go (nil: /dev/null).
    let output: URL?
    private let lock = NSLock()
    private var pid: pid_t?

    init(_ path: String, _ arguments: [String], output: URL? = nil) throws {
        self.path = path
        self.output = output
        if let output, !FileManager.default.fileExists(atPath: output.path) {
            _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        }
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
        let sink = output?.path ?? "/dev/null"
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, sink, O_WRONLY | O_APPEND, 0)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        var child: pid_t = 0
        let result = posix_spawn(&child, path, &actions, &attributes, argv, environ)
        guard result == 0 else { throw Loopback.Failure("cannot start \(path): error \(result)") }
        pid = child
    }

    /// What the program wrote to stdout and stderr so far.
    var log: String { output.flatMap { try? String(contentsOf: $0, encoding: .utf8) } ?? "" }

    /// False once the program has exited (it is reaped then).
    var isRunning: Bool {
        lock.withLock {
            guard let child = pid else { return false }
            var status: Int32 = 0
            if waitpid(child, &status, WNOHANG) == child {
                pid = nil
                return false
            }
            return true
        }
    }

    /// Asks `ready` every 50 ms until it answers true. When the program exits first or `seconds`
    /// pass (and a last ask still says no: a busy machine may have kept this task waiting past
    /// the deadline), stops it and throws with what it wrote.
    func waitUntilReady(within seconds: Double = 30, _ ready: () async -> Bool) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if await ready() { return }
            guard isRunning else {
                throw Loopback.Failure("\(path) exited before it was ready: \(log.suffix(2000))")
            }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        if await ready() { return }
        stop()
        throw Loopback.Failure("\(path) was not ready within \(seconds) s: \(log.suffix(2000))")
    }

    /// SIGTERM, then waits for the exit.
    func stop() {
        let child: pid_t? = lock.withLock {
            defer { pid = nil }
            return pid
        }
        guard let child else { return }
        kill(child, SIGTERM)
        var status: Int32 = 0
        while waitpid(child, &status, 0) < 0 && errno == EINTR {}
    }

    deinit { stop() }

    /// What a program run to its end wrote, and its exit status.
    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs `executable` to its end with `stdin` (closed after it), in `directory`.
    static func run(_ executable: URL, _ arguments: [String], stdin: Data? = nil, in directory: URL? = nil) throws
        -> Output
    {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let input = Pipe()
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(stdin) }
        try input.fileHandleForWriting.close()
        let stdoutData = out.fileHandleForReading.readDataToEndOfFile()
        let stderrData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Output(
            status: process.terminationStatus, stdout: String(decoding: stdoutData, as: UTF8.self),
            stderr: String(decoding: stderrData, as: UTF8.self))
    }

    /// The program at the first of these paths that is executable: `PATH`'s folders, then `folders`.
    static func locate(_ name: String, in folders: [String]) -> String? {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        for folder in path + folders {
            let candidate = "\(folder)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}
