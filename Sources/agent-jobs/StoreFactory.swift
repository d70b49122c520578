import AgentJobsCore
import AgentJobsPostgres
import AgentJobsSQLite
import Foundation
import ServiceLifecycle

/// A store the command line opened, with the services that must run for it to answer.
struct OpenedStore: Sendable {
    let store: any JobQueueStore
    /// The PostgreSQL connection pool, or SQLite's background checkpointer: run before the
    /// store is used, stopped after everything that uses it.
    let services: [any Service]
}

/// Opens the store a database URL names.
enum StoreFactory {
    static func open(_ location: DatabaseLocation) throws -> OpenedStore {
        switch location {
        case .sqlite(let path):
            let store = try SQLiteJobStore(path: path)
            return OpenedStore(store: store, services: [CheckpointService(checkpointer: store.checkpointer)])
        case .postgres(let url):
            let store = try PostgresJobStore(url: url)
            return OpenedStore(store: store, services: store.services)
        }
    }

    /// For one-shot commands: opens the store, runs its services, applies migrations when
    /// asked, runs `body`, and stops the services.
    static func withStore<Result: Sendable>(
        _ location: DatabaseLocation, migrate: Bool = true,
        _ body: @Sendable (any JobQueueStore) async throws -> Result
    ) async throws -> Result {
        let opened = try open(location)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            for service in opened.services {
                group.addTask { try await service.run() }
            }
            defer { group.cancelAll() }
            if migrate { try await opened.store.migrate() }
            return try await body(opened.store)
        }
    }
}
