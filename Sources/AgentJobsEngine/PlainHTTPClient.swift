import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A small HTTP/1.1 client for agents at `http://` URLs: one POST per connection at a time,
/// connections kept alive for the next call to the same host and port (closed after
/// `idleTimeout` unused), nothing else (no redirects, no TLS, no tracing; `https://` agents go
/// through AsyncHTTPClient).
///
/// Why not AsyncHTTPClient for these too: with 10,000 agents called at once its connection
/// pool and per-connection set-up were about a third of the server's CPU (its pool copies its
/// list of connections on every connection event); here a call is a connect (or an idle
/// connection taken from a list), three writes and a handler that collects the answer.
public final class PlainHTTPClient: Sendable {
    /// The answer to one call: its status and its body (at most the call's limit).
    public struct Answer: Sendable {
        public var status: Int
        public var body: ByteBuffer
    }

    /// Why a call failed without an answer.
    public enum CallError: Error, CustomStringConvertible {
        /// The connection closed before the whole answer arrived.
        case closedBeforeAnswer
        /// A kept-alive connection closed before any of the answer arrived (the agent may have
        /// closed it as idle while the call was sent); the call is tried once on a new one.
        case closedBeforeResponse
        /// The call took longer than its timeout.
        case timedOut
        /// The client was shut down.
        case shutDown

        public var description: String {
            switch self {
            case .closedBeforeAnswer: "the agent closed the connection before its answer was complete"
            case .closedBeforeResponse: "the agent closed the connection before answering"
            case .timedOut: "no answer within the call's time limit"
            case .shutDown: "the agent client was shut down"
            }
        }
    }

    private let group: any EventLoopGroup
    private let connectTimeout: TimeAmount
    private let idleTimeout: TimeAmount
    private struct State {
        /// Idle connections per `host:port` (a closed one removes itself).
        var idle: [String: [ObjectIdentifier: any Channel]] = [:]
        var shutDown = false
    }
    private let state = Mutex(State())

    public init(
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, connectTimeout: Duration = .seconds(10),
        idleTimeout: Duration = .seconds(60)
    ) {
        self.group = group
        self.connectTimeout = TimeAmount(connectTimeout)
        self.idleTimeout = TimeAmount(idleTimeout)
    }

    /// POSTs `body` to `uri` at `host:port` with `headers` (`Host` and `Content-Length` are
    /// added); the answer's body is read up to `maxResponseBytes` (more throws
    /// `NIOTooManyBytesError`). The whole call, connecting included, takes at most `timeout`;
    /// cancelling the calling task, or `stop` firing, closes its connection (and the call
    /// throws `CancellationError` or the connection's error).
    public func post(
        host: String, port: Int, uri: String, headers: HTTPHeaders, body: [UInt8], timeout: Duration,
        maxResponseBytes: Int, stop: AsyncSignal? = nil
    ) async throws -> Answer {
        let key = "\(host):\(port)"
        var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: uri, headers: headers)
        head.headers.replaceOrAdd(name: "Host", value: port == 80 ? host : key)
        head.headers.replaceOrAdd(name: "Content-Length", value: String(body.count))
        let deadline = NIODeadline.now() + TimeAmount(timeout)
        let call = AgentCall(head: head, body: ByteBuffer(bytes: body), limit: maxResponseBytes, deadline: deadline)
        if let reused = takeIdle(key) {
            do {
                return try await send(call, on: reused, key: key, stop: stop)
            } catch CallError.closedBeforeResponse where !Task.isCancelled && stop?.hasFired != true {
                // Closed by the agent as idle while the call went out: once more, on a new one.
            }
        }
        try Task.checkCancellation()
        if stop?.hasFired == true { throw CancellationError() }
        let channel = try await connect(to: host, port: port, key: key, deadline: deadline, stop: stop)
        return try await send(call, on: channel, key: key, stop: stop)
    }

    private func send(
        _ call: AgentCall, on channel: any Channel, key: String, stop: AsyncSignal?
    ) async throws
        -> Answer
    {
        let stopping = stop?.onSignal { channel.close(promise: nil) }
        defer { if let stopping { stop?.removeAction(stopping) } }
        let answer = try await withTaskCancellationHandler {
            try await channel.eventLoop.flatSubmit {
                do {
                    return try channel.pipeline.syncOperations.handler(type: AgentCallHandler.self).start(
                        call, on: channel.eventLoop)
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }.get()
        } onCancel: {
            channel.close(promise: nil)
        }
        if answer.keepAlive { release(channel, key: key) } else { channel.close(promise: nil) }
        return Answer(status: answer.status, body: answer.body)
    }

    /// An idle connection to `key`, if one is open.
    private func takeIdle(_ key: String) -> (any Channel)? {
        state.withLock { state in
            while let (_, channel) = state.idle[key]?.popFirst() {
                if channel.isActive { return channel }
            }
            return nil
        }
    }

    /// A new connection to `host:port` (TCP_NODELAY, as `ClientBootstrap` sets by default); a
    /// host name is resolved for each new connection, as AsyncHTTPClient does.
    private func connect(
        to host: String, port: Int, key: String, deadline: NIODeadline, stop: AsyncSignal?
    )
        async throws -> any Channel
    {
        guard !state.withLock({ $0.shutDown }) else { throw CallError.shutDown }
        let idleTimeout = self.idleTimeout
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(min(connectTimeout, deadline - .now()))
            .channelInitializer { [weak self] channel in
                let id = ObjectIdentifier(channel)
                let forget: @Sendable () -> Void = { [weak self] in self?.forget(id, key: key) }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(
                        AgentCallHandler(idleTimeout: idleTimeout, onClose: forget))
                }
            }
        let connecting = PendingConnection()
        let stopping = stop?.onSignal { connecting.cancel() }
        defer { if let stopping { stop?.removeAction(stopping) } }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                connecting.wait(continuation)
                // An IP address needs no resolver (nor Happy Eyeballs): 20% of the CPU of
                // 10,000 calls at once went there for `127.0.0.1`.
                let channel =
                    if let address = try? SocketAddress(ipAddress: host, port: port) {
                        bootstrap.connect(to: address)
                    } else {
                        bootstrap.connect(host: host, port: port)
                    }
                channel.whenComplete { connecting.complete($0) }
            }
        } onCancel: {
            connecting.cancel()
        }
    }

    /// Keeps `channel` for the next call to `key` (it closes itself after `idleTimeout`).
    private func release(_ channel: any Channel, key: String) {
        let kept = state.withLock { state -> Bool in
            guard !state.shutDown else { return false }
            state.idle[key, default: [:]][ObjectIdentifier(channel)] = channel
            return true
        }
        if !kept { channel.close(promise: nil) }
    }

    /// A connection closed: it is no longer kept.
    private func forget(_ id: ObjectIdentifier, key: String) {
        state.withLock { state in
            _ = state.idle[key]?.removeValue(forKey: id)
            if state.idle[key]?.isEmpty == true { state.idle[key] = nil }
        }
    }

    /// Closes every idle connection; later calls fail.
    public func shutdown() async {
        let channels = state.withLock { state -> [any Channel] in
            state.shutDown = true
            defer { state.idle = [:] }
            return state.idle.values.flatMap { $0.values }
        }
        for channel in channels { try? await channel.close() }
    }
}

/// A connection being made, for a caller that may be cancelled meanwhile: the caller is
/// answered at once when cancelled, and the connection, when it is made, closed.
private final class PendingConnection: Sendable {
    private struct State {
        var continuation: CheckedContinuation<any Channel, any Error>?
        var cancelled = false
    }
    private let state = Mutex(State())

    func wait(_ continuation: CheckedContinuation<any Channel, any Error>) {
        let cancelled = state.withLock { state -> Bool in
            if !state.cancelled { state.continuation = continuation }
            return state.cancelled
        }
        if cancelled { continuation.resume(throwing: CancellationError()) }
    }

    func complete(_ result: Result<any Channel, any Error>) {
        let continuation = state.withLock { state in
            defer { state.continuation = nil }
            return state.continuation
        }
        if let continuation {
            continuation.resume(with: result)
        } else if case .success(let channel) = result {
            channel.close(promise: nil)
        }
    }

    func cancel() {
        let continuation = state.withLock { state in
            state.cancelled = true
            defer { state.continuation = nil }
            return state.continuation
        }
        continuation?.resume(throwing: CancellationError())
    }
}

/// One call as its connection's handler receives it.
private struct AgentCall: Sendable {
    var head: HTTPRequestHead
    var body: ByteBuffer
    var limit: Int
    var deadline: NIODeadline
}

/// The end of a connection's pipeline: writes a call, collects its answer, and closes the
/// connection when the call times out or after `idleTimeout` without one.
private final class AgentCallHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    struct Collected: Sendable {
        var status: Int
        var body: ByteBuffer
        var keepAlive: Bool
    }

    private let idleTimeout: TimeAmount
    private let onClose: @Sendable () -> Void
    private var context: ChannelHandlerContext?
    private var promise: EventLoopPromise<Collected>?
    private var limit = 0
    private var head: HTTPResponseHead?
    private var body = ByteBuffer()
    private var timer: Scheduled<Void>?

    init(idleTimeout: TimeAmount, onClose: @escaping @Sendable () -> Void) {
        self.idleTimeout = idleTimeout
        self.onClose = onClose
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    /// Sends `call` (on the channel's event loop); the future completes with its answer.
    func start(_ call: AgentCall, on eventLoop: any EventLoop) -> EventLoopFuture<Collected> {
        guard let context, promise == nil, context.channel.isActive else {
            return eventLoop.makeFailedFuture(PlainHTTPClient.CallError.closedBeforeResponse)
        }
        let promise = context.eventLoop.makePromise(of: Collected.self)
        self.promise = promise
        limit = call.limit
        head = nil
        body.clear()
        timer?.cancel()
        let loopBoundSelf = NIOLoopBound(self, eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(deadline: call.deadline) {
            loopBoundSelf.value.fail(PlainHTTPClient.CallError.timedOut)
        }
        context.write(wrapOutboundOut(.head(call.head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(call.body))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        return promise.futureResult
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard promise != nil else { return }
        switch unwrapInboundIn(data) {
        case .head(let received):
            head = received
        case .body(var part):
            guard body.readableBytes + part.readableBytes <= limit else {
                fail(NIOTooManyBytesError(maxBytes: limit))
                return
            }
            body.writeBuffer(&part)
        case .end:
            guard let head, let promise else { return }
            self.promise = nil
            timer?.cancel()
            let collected = Collected(status: Int(head.status.code), body: body, keepAlive: head.isKeepAlive)
            body = ByteBuffer()
            if collected.keepAlive { scheduleIdleClose(context: context) }
            promise.succeed(collected)
        }
    }

    /// Closes the connection if no call starts within `idleTimeout`.
    private func scheduleIdleClose(context: ChannelHandlerContext) {
        let channel = context.channel
        let loopBoundSelf = NIOLoopBound(self, eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: idleTimeout) {
            if loopBoundSelf.value.promise == nil { channel.close(promise: nil) }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        fail(
            head == nil ? PlainHTTPClient.CallError.closedBeforeResponse : PlainHTTPClient.CallError.closedBeforeAnswer)
        onClose()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(error)
    }

    /// Fails the call under way, if any, and closes the connection.
    private func fail(_ error: any Error) {
        timer?.cancel()
        if let promise {
            self.promise = nil
            promise.fail(error)
        }
        context?.close(promise: nil)
    }
}
