import Foundation
import HTTPTypes
import Logging
import Metrics
import NIOCore
import NIOHTTPTypes

/// How many connections the server keeps open, chosen so that sockets never use up the
/// process's file descriptors (the journal, the outbox database, the event loops and the log
/// need some too; a process out of descriptors stops answering `/healthz`).
public enum ConnectionLimits {
    /// Descriptors kept free of connections: a quarter of the limit, at least 48 (the process
    /// itself holds about 25: event loops, log, journal, outbox; delivery's HTTP connections and
    /// the few sockets one accept pass takes past the limit need the rest) and at most 256.
    public static func reserved(descriptorLimit: Int) -> Int { min(256, max(48, descriptorLimit / 4)) }

    /// Connections accepted beyond `maxConnections` only to be answered 503 and closed; past
    /// `maxConnections + overflow` the server stops accepting and new ones wait in the
    /// kernel's listen queue until a connection closes.
    public static func overflow(maxConnections: Int) -> Int { min(64, max(1, maxConnections / 16)) }

    /// The default `--max-connections`: what the descriptor limit leaves after the reserve and
    /// the overflow.
    public static func defaultMaxConnections(descriptorLimit: Int = descriptorLimit()) -> Int {
        let sockets = max(2, descriptorLimit - reserved(descriptorLimit: descriptorLimit))
        return max(1, sockets - overflow(maxConnections: sockets))
    }

    /// The connections served at once for a `--max-connections`: when its sockets would not fit
    /// `socketBudget`, what the descriptor limit leaves (`defaultMaxConnections`). The process
    /// must never run out of descriptors: beyond refused sockets and files, the dispatch library
    /// under Swift concurrency traps when it cannot open the `/proc` files through which it
    /// watches its worker threads.
    public static func servedConnections(maxConnections: Int, descriptorLimit: Int = descriptorLimit()) -> Int {
        guard maxConnections + overflow(maxConnections: maxConnections) > socketBudget(descriptorLimit: descriptorLimit)
        else { return maxConnections }
        return min(maxConnections, defaultMaxConnections(descriptorLimit: descriptorLimit))
    }

    /// Sockets (served and overflow) that fit the descriptor limit with the reserve kept free.
    public static func socketBudget(descriptorLimit: Int = descriptorLimit()) -> Int {
        max(2, descriptorLimit - reserved(descriptorLimit: descriptorLimit))
    }

    /// The soft `RLIMIT_NOFILE` (`ulimit -n`); an unlimited one counts as 65,536.
    public static func descriptorLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        if limit.rlim_cur > 65_536 { return 65_536 }  // also RLIM_INFINITY
        return Int(limit.rlim_cur)
    }
}

/// Counts the connections being served, shared by every connection's `ConnectionGuard`.
final class ConnectionCounter: @unchecked Sendable {
    let limit: Int
    private let lock = NSLock()
    private var served = 0
    /// Set at the first refusal once the limit is reached, cleared when a slot frees: the
    /// warning is logged once per episode, not once per refused connection.
    private var saturated = false
    private let open = Gauge(label: "fleetrules_connections_open")
    private let refused = Counter(label: "fleetrules_connections_refused_total")

    enum Admission { case served, refused, refusedFirst }

    init(limit: Int) { self.limit = limit }

    func admit() -> Admission {
        let (admission, count): (Admission, Int) = lock.withLock {
            if served < limit {
                served += 1
                return (.served, served)
            }
            defer { saturated = true }
            return (saturated ? .refused : .refusedFirst, served)
        }
        if admission == .served { open.record(count) } else { refused.increment() }
        return admission
    }

    func release() {
        let count: Int = lock.withLock {
            served -= 1
            saturated = false
            return served
        }
        open.record(count)
    }
}

/// One connection's guard, in the HTTP pipeline just after the HTTP/1 codec:
///
/// - **Connection limit.** A connection beyond `--max-connections` is not served: its first
///   request is answered `503` with `Retry-After` and `Connection: close`, and it is closed (after
///   `overCapacityGrace` if no request comes).
/// - **Read timeout.** A request whose head has arrived must arrive whole (body included) within
///   `readTimeout`, or the connection is closed. (Hummingbird's idle timeout closes connections
///   on which no request starts, or no part of one arrives, within the same time.)
/// - **`Expect: 100-continue`.** Clients such as curl send it before a large body and wait for
///   `100 Continue` before sending the body; it is sent as soon as the head arrives, or, when the
///   declared length is over `--max-body`, a final `413` is sent instead and the connection closed.
final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    struct Settings: Sendable {
        var readTimeout: TimeAmount
        var overCapacityGrace: TimeAmount
        var maxBodyBytes: Int
    }

    private let counter: ConnectionCounter
    private let settings: Settings
    private let logger: Logger
    private var served = false
    /// The connection has been answered with a final response of this handler; what else
    /// arrives on it is dropped.
    private var finished = false
    private var readDeadline: Scheduled<Void>?
    private var graceDeadline: Scheduled<Void>?
    /// Requests passed on whose response has not been written to its end yet.
    private var responsesOwed = 0
    /// A `100 Continue` waits for the responses to earlier (pipelined) requests to be written.
    private var continueOwed = false

    init(counter: ConnectionCounter, settings: Settings, logger: Logger) {
        self.counter = counter
        self.settings = settings
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let admission = counter.admit()
        served = admission == .served
        if served {
            let counter = self.counter
            context.channel.closeFuture.whenComplete { _ in counter.release() }
            return
        }
        if admission == .refusedFirst {
            logger.warning(
                "connection limit reached; new connections are answered 503 until one closes",
                metadata: ["max_connections": "\(counter.limit)"])
        }
        graceDeadline = context.eventLoop.assumeIsolated().scheduleTask(in: settings.overCapacityGrace) {
            context.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        readDeadline?.cancel()
        readDeadline = nil
        graceDeadline?.cancel()
        graceDeadline = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !finished else { return }
        let part = unwrapInboundIn(data)
        switch part {
        case .head(let request):
            guard served else {
                finish(
                    context, .serviceUnavailable, "over_capacity",
                    "the server is at its connection limit (\(counter.limit)); retry shortly",
                    extra: [.retryAfter: "1"], limit: counter.limit)
                return
            }
            if Self.expectsContinue(request) {
                let declared = request.headerFields[.contentLength].flatMap { Int($0) } ?? 0
                if declared > settings.maxBodyBytes {
                    // Refused before the body is sent; behind pipelined requests the route's own
                    // 413 answers it instead (this handler must not write into their responses).
                    if responsesOwed == 0 {
                        finish(
                            context, .contentTooLarge, "too_large",
                            "the body is over the limit of \(settings.maxBodyBytes) bytes",
                            extra: [:], limit: settings.maxBodyBytes)
                        return
                    }
                } else if responsesOwed == 0 {
                    writeContinue(context)
                } else {
                    continueOwed = true
                }
            }
            responsesOwed += 1
            readDeadline?.cancel()
            readDeadline = context.eventLoop.assumeIsolated().scheduleTask(in: settings.readTimeout) { [logger] in
                logger.debug("read timeout: the request did not arrive whole in time; closing the connection")
                context.close(promise: nil)
            }
        case .body:
            break
        case .end:
            readDeadline?.cancel()
            readDeadline = nil
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        context.write(data, promise: promise)
        guard case .end = unwrapOutboundIn(data) else { return }
        responsesOwed -= 1
        // The response before the one that expects to continue is written: now the 100 may go.
        if continueOwed && responsesOwed == 1 {
            continueOwed = false
            writeContinue(context)
        }
    }

    private func writeContinue(_ context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(.head(HTTPResponse(status: .continue))), promise: nil)
    }

    /// Answers the connection with a final JSON error, closes its sending side (the client reads
    /// the answer and an end of stream, rather than a reset) and drops whatever else arrives; the
    /// grace deadline closes it fully.
    private func finish(
        _ context: ChannelHandlerContext, _ status: HTTPResponse.Status, _ code: String, _ message: String,
        extra: HTTPFields, limit: Int
    ) {
        finished = true
        readDeadline?.cancel()
        readDeadline = nil
        let body = FleetRulesServer.errorBody(code, message, extra: [("limit", .number(Double(limit)))])
        var fields: HTTPFields = [
            .contentType: "application/json", .contentLength: "\(body.readableBytes)", .connection: "close",
        ]
        fields.append(contentsOf: extra)
        context.write(wrapOutboundOut(.head(HTTPResponse(status: status, headerFields: fields))), promise: nil)
        context.write(wrapOutboundOut(.body(body)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        context.close(mode: .output, promise: nil)
        if graceDeadline == nil {
            graceDeadline = context.eventLoop.assumeIsolated().scheduleTask(in: settings.overCapacityGrace) {
                context.close(promise: nil)
            }
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // The client has read the final answer and closed its side: nothing more to wait for.
        if finished, let event = event as? ChannelEvent, event == .inputClosed {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    static func expectsContinue(_ request: HTTPRequest) -> Bool {
        guard let value = request.headerFields[.expect] else { return false }
        return value.trimmingCharacters(in: .whitespaces).lowercased() == "100-continue"
    }
}

@available(*, unavailable)
extension ConnectionGuard: Sendable {}
