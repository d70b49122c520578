import AgentJobsSQLite
import ServiceLifecycle

/// Runs a SQLite store's background checkpointer (`SQLiteCheckpointer`) until the process
/// shuts down.
struct CheckpointService: Service {
    let checkpointer: SQLiteCheckpointer

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown { try await checkpointer.run() }
        } catch is CancellationError {}
    }
}
