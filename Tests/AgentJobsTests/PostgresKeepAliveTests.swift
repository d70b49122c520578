import Foundation
import PostgresNIO
import Testing

@testable import AgentJobsPostgres

/// The PostgreSQL pool keeps its first connections open without postgres-nio's timers, and
/// `PostgresKeepAlive` pings each of them (`PostgresKeepAlive`, `PostgresJobStore.init(url:)`).
@Suite("PostgreSQL keep-alive", .timeLimit(.minutes(1)))
struct PostgresKeepAliveTests {
    static var kinds: [StoreKind] { StoreKind.available.filter { $0 == .postgres } }

    static func store(
        _ env: TestEnvironment, kept: Int, maximum: Int = 20
    ) throws -> (PostgresJobStore, ClientLifetime) {
        let store = try PostgresJobStore(
            url: env.databaseURL, configuration: .init(maximumConnections: maximum, keptConnections: kept))
        return (store, ClientLifetime(store.client))
    }

    @Test("a round pings every kept connection, each once, and the same ones the next time", arguments: kinds)
    func pingsEachKeptConnection(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind, start: Date())
        let (store, lifetime) = try Self.store(env, kept: 3)
        let first = try await store.keepAlive.pingOnce()
        #expect(first.count == 3)
        #expect(Set(first).count == 3)
        let second = try await store.keepAlive.pingOnce()
        #expect(Set(second) == Set(first))
        withExtendedLifetime(lifetime) {}
    }

    @Test("the kept connections are at most the pool's maximum", arguments: kinds)
    func keptWithinMaximum(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind, start: Date())
        let (store, lifetime) = try Self.store(env, kept: 8, maximum: 2)
        #expect(store.keepAlive.connections == 2)
        #expect(Set(try await store.keepAlive.pingOnce()).count == 2)
        withExtendedLifetime(lifetime) {}
    }

    @Test("a kept connection the server ended is replaced, and the store still answers", arguments: kinds)
    func replacesAnEndedConnection(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind, start: Date())
        let (store, lifetime) = try Self.store(env, kept: 2)
        let before = try await store.keepAlive.pingOnce()
        let ended = try #require(before.last)
        try await (env.store as! PostgresJobStore).client.query("SELECT pg_terminate_backend(\(ended))")
        // The pool learns of the closed socket on its event loop and opens a new kept
        // connection: poll until a round answers from two live server processes.
        var after: [Int32] = []
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if let pids = try? await store.keepAlive.pingOnce(timeout: .seconds(2)), pids.count == 2,
                !pids.contains(ended)
            {
                after = pids
                break
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(after.count == 2)
        #expect(!after.contains(ended))
        _ = try await store.wakeTimes()
        withExtendedLifetime(lifetime) {}
    }

    @Test("run returns once it is cancelled", arguments: kinds)
    func runStopsWhenCancelled(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind, start: Date())
        let (store, lifetime) = try Self.store(env, kept: 1)
        let keepAlive = PostgresKeepAlive(
            client: store.client, connections: 1, interval: .milliseconds(1), logger: .init(label: "test"))
        let running = Task { try await keepAlive.run() }
        running.cancel()
        try await running.value
        withExtendedLifetime(lifetime) {}
    }
}
