import AsyncHTTPClient
import ServiceLifecycle

/// The process's HTTP client for agent calls, as a `Service`: it lives until the service
/// group shuts down (after the engine, which is added later, has drained) and is then shut
/// down properly.
///
/// A refused or failed connection fails the task at once (the job's retry rules decide what
/// happens next) instead of AsyncHTTPClient's default of retrying the connection until the
/// request's deadline. Up to `maxConnectionsPerHost` connections per agent host (`serve`
/// passes its `--concurrency`): every task slot can hold a request to the same agent, so no
/// task waits for a connection (a task counts as started when the agent has its document).
/// Redirects are not followed.
public final class AgentHTTPClient: Service, Sendable {
    public let client: HTTPClient

    public init(maxConnectionsPerHost: Int = 64) {
        var configuration = HTTPClient.Configuration()
        configuration.timeout.connect = .seconds(10)
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = max(1, maxConnectionsPerHost)
        // A redirect would re-send the document, its signature and Idempotency-Key elsewhere.
        configuration.redirectConfiguration = .disallow
        client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }

    public func run() async throws {
        try? await gracefulShutdown()
        try await shutdown()
    }

    /// Closes the client's connections.
    public func shutdown() async throws {
        try await client.shutdown()
    }
}
