import FleetRules
import FleetRulesMQTT
import Foundation
import Logging
import Metrics

/// A subscription topic with `{name}` placeholders: each placeholder is one level, `+` in the
/// subscription, and the reading's field `name` when the payload does not have it.
public struct TopicTemplate: Sendable, Equatable {
    enum Level: Sendable, Equatable {
        case literal(String)
        case field(String)
        case any
        case rest
    }
    let levels: [Level]
    public let text: String

    public struct SyntaxError: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    public init(_ text: String) throws {
        guard !text.isEmpty else { throw SyntaxError(description: "an MQTT topic cannot be empty") }
        var levels: [Level] = []
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        for (i, part) in parts.enumerated() {
            if part.hasPrefix("{") && part.hasSuffix("}") && part.count > 2 {
                let name = String(part.dropFirst().dropLast())
                guard name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) else {
                    throw SyntaxError(description: "'\(text)': '{\(name)}' is not a field name")
                }
                levels.append(.field(name))
            } else if part == "+" {
                levels.append(.any)
            } else if part == "#" {
                guard i == parts.count - 1 else {
                    throw SyntaxError(description: "'\(text)': '#' must be the last level")
                }
                levels.append(.rest)
            } else {
                guard !part.contains("{") && !part.contains("}") && !part.contains("+") && !part.contains("#") else {
                    throw SyntaxError(
                        description:
                            "'\(text)': a placeholder or wildcard must be a whole level, as in fleet/{site}/{device}")
                }
                levels.append(.literal(String(part)))
            }
        }
        self.levels = levels
        self.text = text
    }

    /// The subscription filter: placeholders become `+`.
    public var filter: String {
        levels.map { level -> String in
            switch level {
            case .literal(let s): s
            case .field, .any: "+"
            case .rest: "#"
            }
        }.joined(separator: "/")
    }

    /// The placeholders' values in `topic`, or nil when the topic does not match.
    public func fields(in topic: String) -> [(String, String)]? {
        let parts = topic.split(separator: "/", omittingEmptySubsequences: false)
        var out: [(String, String)] = []
        for (i, level) in levels.enumerated() {
            if case .rest = level { return out }
            guard i < parts.count else { return nil }
            switch level {
            case .literal(let s): if parts[i] != s { return nil }
            case .field(let name): out.append((name, String(parts[i])))
            case .any, .rest: break
            }
        }
        return parts.count == levels.count ? out : nil
    }
}

/// The top-level keys of one JSON object line, and the line with string fields added when it
/// lacks them (topic placeholders). Lines that are not an object are left alone (the decoder
/// rejects them as it always does).
enum ReadingLine {
    /// Adds `"name":"value"` for every field the object lacks, before its closing brace (so the
    /// columns of the payload's own text stay where they were in a rejection message). A line
    /// that is not one object from `{` to `}` is left alone.
    static func filling(_ line: ArraySlice<UInt8>, with fields: [(String, String)], into out: inout [UInt8]) {
        guard !fields.isEmpty, let open = line.firstIndex(where: { !isSpace($0) }), line[open] == 0x7B,
            let close = line.lastIndex(where: { !isSpace($0) }), close > open, line[close] == 0x7D
        else {
            out.append(contentsOf: line)
            return
        }
        let keys = topLevelKeys(line, from: open)
        var insert: [UInt8] = []
        for (name, value) in fields where !keys.contains(name) {
            insert.append(0x2C)
            insert.append(contentsOf: quoted(name))
            insert.append(0x3A)
            insert.append(contentsOf: quoted(value))
        }
        // An empty object gets no leading comma.
        if !insert.isEmpty && line[(open + 1)..<close].allSatisfy(isSpace) { insert.removeFirst() }
        out.append(contentsOf: line[..<close])
        out.append(contentsOf: insert)
        out.append(contentsOf: line[close...])
    }

    static func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 || c == 0x0D }

    static func quoted(_ s: String) -> [UInt8] {
        var out: [UInt8] = [0x22]
        for c in s.utf8 {
            switch c {
            case 0x22, 0x5C:
                out.append(0x5C)
                out.append(c)
            case 0..<0x20:
                out.append(contentsOf: Array(String(format: "\\u%04x", c).utf8))
            default: out.append(c)
            }
        }
        out.append(0x22)
        return out
    }

    /// The keys at depth 1 of the object that opens at `open` (raw bytes between the quotes).
    static func topLevelKeys(_ line: ArraySlice<UInt8>, from open: Int) -> Set<String> {
        var keys = Set<String>()
        var depth = 0
        var i = open
        var expectKey = false
        while i < line.endIndex {
            let c = line[i]
            switch c {
            case 0x7B, 0x5B:
                depth += 1
                expectKey = c == 0x7B && depth == 1
            case 0x7D, 0x5D:
                depth -= 1
            case 0x2C:
                expectKey = depth == 1
            case 0x22:
                let start = i + 1
                var j = start
                while j < line.endIndex && line[j] != 0x22 {
                    j += line[j] == 0x5C ? 2 : 1
                }
                if expectKey && depth == 1 && j <= line.endIndex {
                    keys.insert(String(decoding: line[start..<min(j, line.endIndex)], as: UTF8.self))
                }
                expectKey = false
                i = j
            default: break
            }
            i += 1
        }
        return keys
    }
}

/// The state `/readyz` shows and the counts `/metrics` exports.
public final class MQTTIngestStatus: @unchecked Sendable {
    private let lock = NSLock()
    private var state = "connecting"
    private var lastError: String?
    private var sessionPresent = false
    private var connections = 0
    private var messages = 0

    let connected = Gauge(label: "fleetrules_mqtt_connected")
    let connects = Counter(label: "fleetrules_mqtt_connections_total")
    let ingested = Counter(label: "fleetrules_mqtt_messages_total", dimensions: [("outcome", "ingested")])
    let duplicates = Counter(label: "fleetrules_mqtt_messages_total", dimensions: [("outcome", "duplicate")])
    let oversized = Counter(label: "fleetrules_mqtt_messages_total", dimensions: [("outcome", "too_large")])
    let readings = Counter(label: "fleetrules_mqtt_readings_total")
    let rejected: [RejectReason: Counter] = Dictionary(
        uniqueKeysWithValues: RejectReason.allCases.map {
            ($0, Counter(label: "fleetrules_mqtt_rejected_total", dimensions: [("reason", $0.rawValue)]))
        })

    init() { connected.record(0) }

    func event(_ e: MQTTSubscriber.Event) {
        lock.withLock {
            switch e {
            case .connecting: state = "connecting"
            case .connected(let present):
                state = "connected"
                sessionPresent = present
                connections += 1
                lastError = nil
            case .disconnected(let reason, _):
                state = "disconnected"
                lastError = reason
            }
        }
        switch e {
        case .connected:
            connected.record(1)
            connects.increment()
        case .connecting, .disconnected: connected.record(0)
        }
    }

    func counted(messages n: Int) { lock.withLock { messages += n } }

    /// `"mqtt": {"state": …, "session_present": …, "connections": …, "messages": …, "last_error": …}`.
    public func readiness() -> [(String, JSONValue)] {
        lock.withLock {
            [
                (
                    "mqtt",
                    .object([
                        ("state", .string(state)), ("session_present", .bool(sessionPresent)),
                        ("connections", .number(Double(connections))), ("messages", .number(Double(messages))),
                        ("last_error", lastError.map { .string($0) } ?? .null),
                    ])
                )
            ]
        }
    }
}

/// Live ingest from an MQTT broker into the engine: each batch of messages that arrived together
/// is decoded into one JSON Lines body (one JSON object, a JSON array, or JSON Lines per message)
/// and goes through `EngineHost.ingest`, the path of `POST /v1/telemetry`, so readings are
/// accepted or rejected for the same reasons; the messages are acknowledged only after that
/// returned (the readings are in the engine, and in the journal with a state directory).
/// A redelivered message (DUP) that was already ingested is acknowledged without being ingested
/// again: in this process by its packet id and payload, after a restart when all its lines are
/// already in the restored journal.
public final class MQTTIngest: Sendable {
    public struct Settings: Sendable {
        public var endpoint: MQTTEndpoint
        public var tls = MQTTTransport.TLS()
        public var topics: [TopicTemplate]
        public var clientID: String
        public var keepAlive: UInt16 = 30
        /// Larger messages are acknowledged unread and counted (`too_large`).
        public var maxPayload = 16 << 20
        public var maximumBackoff = 30.0

        public init(endpoint: MQTTEndpoint, topics: [TopicTemplate], clientID: String) {
            self.endpoint = endpoint
            self.topics = topics
            self.clientID = clientID
        }
    }

    public let settings: Settings
    public let status = MQTTIngestStatus()
    let host: EngineHost
    let logger: Logger
    private let seen = SeenMessages()

    public init(settings: Settings, host: EngineHost, logger: Logger) {
        self.settings = settings
        self.host = host
        self.logger = logger
    }

    /// Subscribes and ingests until the task is cancelled.
    public func run() async {
        var configuration = MQTTSubscriber.Configuration(
            endpoint: settings.endpoint, clientID: settings.clientID, filters: settings.topics.map(\.filter))
        configuration.tls = settings.tls
        configuration.keepAlive = settings.keepAlive
        // The packet also holds the topic and a few header bytes.
        configuration.maxPacketSize = settings.maxPayload + 65_540
        configuration.maximumBackoff = settings.maximumBackoff
        let subscriber = MQTTSubscriber(configuration: configuration)
        let logger = self.logger
        let status = self.status
        let endpoint = settings.endpoint.description
        let clientID = settings.clientID
        await subscriber.run(
            deliver: { [self] batch in try await self.ingest(batch) },
            onEvent: { event in
                status.event(event)
                switch event {
                case .connecting(let attempt):
                    if attempt == 1 { logger.info("mqtt: connecting", metadata: ["broker": "\(endpoint)"]) }
                case .connected(let present):
                    logger.info(
                        "mqtt: subscribed",
                        metadata: [
                            "broker": "\(endpoint)", "client_id": "\(clientID)",
                            "session_present": "\(present)",
                        ])
                case .disconnected(let reason, let retry):
                    logger.warning(
                        "mqtt: disconnected",
                        metadata: ["reason": "\(reason)", "retry_in": "\(String(format: "%.2fs", retry))"])
                }
            })
    }

    /// One batch: decode every message, ingest them as one body, count.
    func ingest(_ batch: [MQTTMessage]) async throws {
        var body: [UInt8] = []
        var numbers: [Int] = []
        var counted = 0
        for m in batch {
            if let size = m.oversize {
                status.oversized.increment()
                logger.warning(
                    "mqtt: message over the size limit dropped",
                    metadata: ["topic": "\(m.topic)", "bytes": "\(size)", "limit": "\(settings.maxPayload)"])
                continue
            }
            let fields = settings.topics.lazy.compactMap { $0.fields(in: m.topic) }.first ?? []
            var lines: [UInt8] = []
            var lineNumbers: [Int] = []
            Self.decode(m.payload, fields: fields, into: &lines, lineNumbers: &lineNumbers)
            let hash = Self.hash(lines)
            if m.dup, await isDuplicate(m, hash: hash, lines: lines) {
                status.duplicates.increment()
                continue
            }
            if let id = m.packetID { seen.record(id, hash) }
            body.append(contentsOf: lines)
            numbers.append(contentsOf: lineNumbers)
            counted += 1
        }
        status.counted(messages: batch.count)
        guard !body.isEmpty else {
            status.ingested.increment(by: counted)
            return
        }
        let result = try await host.ingest(lines: body, lineNumbers: numbers, origin: "mqtt")
        status.ingested.increment(by: counted)
        if result.summary.accepted > 0 { status.readings.increment(by: result.summary.accepted) }
        for (reason, n) in result.summary.rejected { status.rejected[reason]?.increment(by: n) }
        if let first = result.summary.rejections.first, logger.logLevel <= .debug {
            logger.debug(
                "mqtt: readings rejected",
                metadata: ["rejected": "\(result.summary.rejected.values.reduce(0, +))", "first": "\(first.message)"])
        }
    }

    /// A payload as JSON Lines, each line ending in a newline, with its line numbers: a JSON
    /// array becomes one line per element; one JSON object spread over several lines becomes one
    /// line; anything else is taken as JSON Lines (unreadable lines are the decoder's `malformed`).
    static func decode(
        _ payload: [UInt8], fields: [(String, String)], into lines: inout [UInt8], lineNumbers: inout [Int]
    ) {
        var text = payload
        var numbers: [Int]?
        let first = payload.first { !($0 == 0x20 || $0 == 0x09 || $0 == 0x0D || $0 == 0x0A) }
        if first == 0x5B {
            if case .success(let l) = TelemetryBody.lines(payload) { (text, numbers) = l }
        } else if first == 0x7B, payload.contains(0x0A), TelemetryBody.scan(payload).malformed > 0 {
            if case .success(let l) = TelemetryBody.lines([0x5B] + payload + [0x5D]), l.lineNumbers?.count == 1 {
                (text, numbers) = l
            }
        }
        var index = 0
        var start = text.startIndex
        while start < text.endIndex {
            let end = text[start...].firstIndex(of: 0x0A) ?? text.endIndex
            let line = text[start..<end]
            index += 1
            if !line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) {
                ReadingLine.filling(line, with: fields, into: &lines)
                lines.append(0x0A)
                lineNumbers.append(numbers.flatMap { index - 1 < $0.count ? $0[index - 1] : nil } ?? index)
            }
            start = end < text.endIndex ? end + 1 : end
        }
    }

    /// A redelivery of a message this process already ingested (same packet id and payload), or
    /// one whose lines are all in the journal (ingested before a restart, its PUBACK lost).
    private func isDuplicate(_ m: MQTTMessage, hash: UInt64, lines: [UInt8]) async -> Bool {
        if let id = m.packetID, seen.hash(of: id) == hash { return true }
        guard !lines.isEmpty else { return false }
        if !seen.hasJournal { seen.setJournal(Self.lineHashes(await host.journalContents)) }
        var all = true
        Self.eachLine(lines) { line in if !seen.journalContains(Self.hash(line)) { all = false } }
        return all
    }

    static func lineHashes(_ bytes: [UInt8]) -> Set<UInt64> {
        var out = Set<UInt64>()
        eachLine(bytes) { out.insert(hash($0)) }
        return out
    }

    static func eachLine(_ bytes: [UInt8], _ body: (ArraySlice<UInt8>) -> Void) {
        var start = 0
        while start < bytes.count {
            let end = bytes[start...].firstIndex(of: 0x0A) ?? bytes.count
            if end > start { body(bytes[start..<end]) }
            start = end + 1
        }
    }

    /// FNV-1a, 64 bits.
    static func hash<C: Collection>(_ bytes: C) -> UInt64 where C.Element == UInt8 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes {
            h ^= UInt64(b)
            h = h &* 0x100_0000_01b3
        }
        return h
    }

    /// The default client id: stable for a state directory (so a restart resumes its session),
    /// else for the host name and working directory.
    public static func defaultClientID(stateDir: URL?) -> String {
        let key =
            stateDir?.standardizedFileURL.path
            ?? "\(ProcessInfo.processInfo.hostName):\(FileManager.default.currentDirectoryPath)"
        return "fleetrules-" + String(hash(Array(key.utf8)), radix: 16)
    }
}

/// Packet id → payload hash of the last message ingested under that id, and the journal's line
/// hashes (built on the first redelivery that needs them).
final class SeenMessages: @unchecked Sendable {
    private let lock = NSLock()
    private var byID: [UInt16: UInt64] = [:]
    private var journal: Set<UInt64>?

    func record(_ id: UInt16, _ hash: UInt64) { lock.withLock { byID[id] = hash } }
    func hash(of id: UInt16) -> UInt64? { lock.withLock { byID[id] } }
    var hasJournal: Bool { lock.withLock { journal != nil } }
    func setJournal(_ hashes: Set<UInt64>) { lock.withLock { journal = hashes } }
    func journalContains(_ h: UInt64) -> Bool { lock.withLock { journal?.contains(h) ?? false } }
}
