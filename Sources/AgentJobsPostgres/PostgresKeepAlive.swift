import Logging
import PostgresNIO
import ServiceLifecycle

/// Keeps the pool's kept connections alive: every `interval`, one short query on each of them.
///
/// postgres-nio's own keep-alive is off (`PostgresJobStore.init(url:)` says why): it schedules
/// a timer, a task of the pool's, each time a connection goes idle and cancels it at the next
/// lease, which at one client was a fifth of `serve`'s CPU per create (`bench/HISTORY.md`,
/// "Kept connections").
/// The pool's first `connections` connections are opened at start and never closed for being
/// idle; the ones it opens beyond them under load close after a minute idle and need no
/// ping. Without traffic, a firewall or NAT between `serve` and the database may drop a
/// connection silently (some cloud NATs after about six minutes); a ping every 30 s keeps
/// them open, and a connection found dead fails only the ping, which closes it (the pool
/// opens another).
public struct PostgresKeepAlive: Service {
    let client: PostgresClient
    /// How many connections each round pings: the pool's kept ones.
    let connections: Int
    let interval: Duration
    let logger: Logger

    public init(client: PostgresClient, connections: Int, interval: Duration = .seconds(30), logger: Logger) {
        self.client = client
        self.connections = connections
        self.interval = interval
        self.logger = logger
    }

    /// Pings every `interval` until the process shuts down (with no kept connections, a round
    /// pings nothing; it still runs until then, as a service group expects of its services).
    public func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                while true {
                    try await Task.sleep(for: interval)
                    do {
                        _ = try await pingOnce()
                    } catch is CancellationError {
                        throw CancellationError()
                    } catch {
                        logger.warning("PostgreSQL keep-alive failed", metadata: ["error": "\(error)"])
                    }
                }
            }
        } catch is CancellationError {}
    }

    /// One round: `SELECT pg_backend_pid()` on `connections` connections at once, each leased
    /// while the next is, so that the pool hands out a different one each time (the idle ones
    /// first, lowest first: the kept ones). Returns the server processes that answered; throws
    /// if the round takes longer than `timeout` (a lease waits while the pool cannot connect).
    public func pingOnce(timeout: Duration = .seconds(10)) async throws -> [Int32] {
        try await withDeadline(timeout, orThrow: { KeepAliveTimeout(timeout: timeout) }) {
            try await ping(remaining: connections)
        }
    }

    /// A keep-alive round that did not finish in time.
    public struct KeepAliveTimeout: Error, CustomStringConvertible {
        public let timeout: Duration
        public var description: String { "the keep-alive round did not finish within \(timeout)" }
    }

    private func ping(remaining: Int) async throws -> [Int32] {
        guard remaining > 0 else { return [] }
        return try await client.withConnection { connection in
            var pids: [Int32] = []
            for try await pid in try await connection.query("SELECT pg_backend_pid()", logger: logger)
                .decode(Int32.self)
            {
                pids.append(pid)
            }
            return pids + (try await ping(remaining: remaining - 1))
        }
    }
}
