import AgentJobsAPI
import AgentJobsCore
import AgentJobsEngine
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import ServiceLifecycle
import Synchronization

/// Counts engine events and lets tests await the next one (no sleeping).
final class EventLog: Sendable {
    private let recorded = Mutex<[EngineEvent]>([])
    private let signal = AsyncSignal()

    func record(_ event: EngineEvent) {
        recorded.withLock { $0.append(event) }
        signal.signal()
    }

    /// Events recorded and signalled (waiters compare against this, so no wake-up is missed).
    var count: Int { Int(signal.generation) }
    var events: [EngineEvent] { recorded.withLock { $0 } }

    /// Returns once more than `seen` events were recorded, or at `deadline`.
    func waitForMore(than seen: Int, until deadline: ContinuousClock.Instant) async {
        await signal.wait(after: UInt64(seen), timeout: max(.zero, deadline - ContinuousClock.now))
    }
}

struct TimedOut: Error, CustomStringConvertible {
    var description: String
}

/// A running engine over a test environment, plus the API wired to it.
struct EngineHarness: Sendable {
    let env: TestEnvironment
    let engine: JobEngine
    let events: EventLog

    static func run(
        env: TestEnvironment,
        configuration: EngineConfiguration = .init(
            concurrency: 8, leaseDuration: .seconds(15), heartbeatInterval: .seconds(5), drainTimeout: .seconds(5)),
        queue: (any TaskQueue)? = nil,
        _ body: @Sendable (EngineHarness, APIClient) async throws -> Void
    ) async throws {
        var executors = ExecutorRegistry()
        let agentHTTP = AgentHTTPClient()
        executors.register(.command, CommandExecutor(configuration: .init(killGrace: .seconds(1))))
        executors.register(.http, HTTPExecutor(clients: agentHTTP))
        executors.register(.demo, DemoExecutor())
        var logger = Logger(label: "engine-test")
        logger.logLevel = .error
        let events = EventLog()
        let engine = JobEngine(
            queue: queue ?? env.store, executors: executors, configuration: configuration, logger: logger,
            observer: { events.record($0) })
        let harness = EngineHarness(env: env, engine: engine, events: events)
        // As `serve` runs it: in a service group, stopped by a graceful shutdown (the drain).
        let group = ServiceGroup(
            configuration: .init(services: [engine], gracefulShutdownSignals: [], logger: logger))
        let running = Task { try await group.run() }
        var apiConfiguration = APIConfiguration(
            onJobCreated: { engine.wake(dueAt: $0.scheduledAt) }, onJobCanceled: { engine.jobCanceled($0.id) })
        apiConfiguration.onScheduleChanged = { engine.scheduleChanged(nextRunAt: $0.nextRunAt) }
        var failure: (any Error)?
        do {
            try await env.withClient(configuration: apiConfiguration) { api in
                try await body(harness, api)
            }
        } catch {
            failure = error
        }
        await group.triggerGracefulShutdown()
        _ = try? await running.value
        try await agentHTTP.shutdown()
        if let failure { throw failure }
    }

    /// Awaits engine events until the job satisfies `condition`.
    func waitForJob(
        _ id: String, timeout: Duration = .seconds(30), _ condition: @Sendable (Job) -> Bool
    ) async throws -> Job {
        let deadline = ContinuousClock.now + timeout
        while true {
            let seen = events.count
            if let job = try await env.store.job(id: id), condition(job) { return job }
            guard ContinuousClock.now < deadline else {
                let job = try await env.store.job(id: id)
                throw TimedOut(description: "job \(id) did not reach the condition: \(String(describing: job))")
            }
            await events.waitForMore(than: seen, until: deadline)
        }
    }

    func waitForTerminal(_ id: String, timeout: Duration = .seconds(30)) async throws -> Job {
        try await waitForJob(id, timeout: timeout) { $0.status.isTerminal }
    }

    /// Awaits the event matching `match`.
    func waitForEvent(timeout: Duration = .seconds(30), _ match: @Sendable (EngineEvent) -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while true {
            let seen = events.count
            if events.events.contains(where: match) { return }
            guard ContinuousClock.now < deadline else { throw TimedOut(description: "event not seen") }
            await events.waitForMore(than: seen, until: deadline)
        }
    }
}

/// A directory of executable shell scripts for `command` job types.
struct Scripts {
    let directory: URL

    init(in base: URL) throws {
        directory = base.appendingPathComponent("scripts")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    /// Writes `body` as an executable `sh` script and returns its path.
    func write(_ name: String, _ body: String) throws -> String {
        let url = directory.appendingPathComponent(name)
        try ("#!/bin/sh\n" + body + "\n").write(to: url, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: url.path)
        return url.path
    }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
}

extension TestEnvironment {
    /// Creates a job type run by `command`.
    func commandType(_ id: String, _ command: String) async throws {
        try await store.createJobType(
            JobType(id: id, orgID: nil, executor: .command(command), defaultConfig: .init(), createdAt: clock.now()))
    }
}
