import AsyncHTTPClient
import ServiceLifecycle
import Synchronization

/// The process's HTTP clients for agent calls, as a `Service`: they live until the service
/// group shuts down (after the engine, which is added later, has drained) and are then shut
/// down properly.
///
/// A refused or failed connection fails the task at once (the job's retry rules decide what
/// happens next) instead of AsyncHTTPClient's default of retrying the connection until the
/// request's deadline. Up to `maxConnectionsPerHost` connections per agent host (`serve`
/// passes its `--concurrency`): every task slot can hold a request to the same agent, so no
/// task waits for a connection (a task counts as started when the agent has its document).
/// Redirects are not followed.
///
/// The connections are spread over several clients (one per 32 connections, at most 1,024),
/// taken in turn: a client's pool does work in proportion to its connections on every
/// connection event, which made 10,000 connections in one pool cost more CPU than the calls.
public final class AgentHTTPClient: Service, Sendable {
    /// Connections per client: a pool copies its list of connections on every connection
    /// event, so smaller pools cost less per call (32 against 128: 3% less CPU per call with
    /// 10,000 agents in flight).
    static let connectionsPerClient = 32
    /// The most clients (32,768 connections per agent host at 32 each).
    static let maxClients = 1024

    /// The clients, used in turn (`next()`).
    public let clients: [HTTPClient]
    private let turn = Atomic<Int>(0)

    /// The client for `http://` agents (`HTTPExecutor` uses it; the AsyncHTTPClients serve
    /// `https://` ones).
    public let plain = PlainHTTPClient()

    /// The first client (the only one up to 32 connections per host).
    public var client: HTTPClient { clients[0] }

    public init(maxConnectionsPerHost: Int = 64) {
        let shards = min(
            Self.maxClients, max(1, (maxConnectionsPerHost + Self.connectionsPerClient - 1) / Self.connectionsPerClient)
        )
        var configuration = HTTPClient.Configuration()
        configuration.timeout.connect = .seconds(10)
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = max(
            1, (maxConnectionsPerHost + shards - 1) / shards)
        // A redirect would re-send the document, its signature and Idempotency-Key elsewhere.
        configuration.redirectConfiguration = .disallow
        // No tracer is bootstrapped: without this, every call still builds a span's attributes.
        configuration.tracing.tracer = nil
        clients = (0..<shards).map { _ in
            HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
        }
    }

    /// The client for the next call.
    public func next() -> HTTPClient {
        clients[turn.wrappingAdd(1, ordering: .relaxed).oldValue % clients.count]
    }

    public func run() async throws {
        try? await gracefulShutdown()
        try await shutdown()
    }

    /// Closes the clients' connections.
    public func shutdown() async throws {
        await plain.shutdown()
        for client in clients { try await client.shutdown() }
    }
}
