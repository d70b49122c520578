import AgentJobsEngine
import ServiceLifecycle

/// Runs `service` once `gate` has fired (the database is migrated); returns without running it
/// when the group shuts down first.
struct StartAfter: Service {
    let gate: AsyncSignal
    let service: any Service

    func run() async throws {
        _ = await cancelWhenGracefulShutdown { await gate.waitUntilFired() }
        guard gate.hasFired, !Task.isCancelled else { return }
        try await service.run()
    }
}
