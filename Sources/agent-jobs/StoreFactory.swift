import AgentJobsCore
import AgentJobsSQLite
import Foundation

/// Opens the store a database URL names, and applies migrations.
enum StoreFactory {
    static func open(_ location: DatabaseLocation, migrate: Bool = true) async throws -> any JobStore {
        let store: any JobStore
        switch location {
        case .sqlite(let path):
            store = try SQLiteJobStore(path: path)
        case .postgres:
            throw AgentJobsError(.badRequest, "PostgreSQL is not supported by this build yet; use sqlite://FILE")
        }
        if migrate { try await store.migrate() }
        return store
    }
}
