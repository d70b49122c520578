import AgentJobsCore
import AgentJobsPostgres
import AgentJobsSQLite
import Foundation

/// Opens the store a database URL names, and applies migrations.
enum StoreFactory {
    static func open(_ location: DatabaseLocation, migrate: Bool = true) async throws -> any JobStore {
        let store: any JobStore
        switch location {
        case .sqlite(let path):
            store = try SQLiteJobStore(path: path)
        case .postgres(let url):
            store = try PostgresJobStore(url: url)
        }
        if migrate { try await store.migrate() }
        return store
    }
}
