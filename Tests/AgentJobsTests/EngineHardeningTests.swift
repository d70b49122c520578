import AgentJobsCore
import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization
import Testing

@testable import AgentJobsEngine
@testable import AgentJobsPostgres

/// Leases, timeouts, caps and the races at the engine's edges.
@Suite("Engine hardening")
struct EngineHardeningTests {
    func create(_ api: APIClient, _ env: TestEnvironment, _ body: String, token: String? = nil) async throws -> String {
        let reply = try await api.create(body, token: token ?? env.writeA)
        guard reply.status == 201, let id = reply.json["data"]["job_id"].string else {
            throw TimedOut(description: "create failed: \(reply.status) \(reply.json)")
        }
        return id
    }

    @Test(
        "a job type's --timeout fails a task that runs too long; the retry rules apply", arguments: StoreKind.available)
    func taskTimeout(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind, start: Date())
        let scripts = try Scripts(in: env.directory)
        try await env.store.createJobType(
            JobType(
                id: "slow", orgID: nil, executor: .command(try scripts.write("slow", "exec sleep 30")),
                defaultConfig: .init(maxTaskRetries: 1, taskRetryInterval: 0), taskTimeoutMinutes: 0.005,
                createdAt: env.clock.now()))
        try await EngineHarness.run(env: env) { harness, api in
            let id = try await create(api, env, jobBody(jobType: "slow"))
            let job = try await harness.waitForTerminal(id)
            #expect(job.status == .failed)
            #expect(job.result == "task timeout exceeded")
            #expect(job.tasks.map(\.status) == [.failed, .failed])
            #expect(job.tasks.map(\.error) == ["task timeout exceeded", "task timeout exceeded"])
            #expect(job.tasks.map(\.kind) == [.initial, .retry])
        }
    }

    @Test("--max-running-per-org: an org's backlog takes only its share; another org's job starts at once")
    func perOrgCap() async throws {
        let env = try await TestEnvironment.make(start: Date())
        let configuration = EngineConfiguration(
            concurrency: 4, leaseDuration: .seconds(15), heartbeatInterval: .seconds(5),
            drainTimeout: .milliseconds(100), maxRunningPerOrg: 2)
        try await EngineHarness.run(env: env, configuration: configuration) { harness, api in
            let slow = jobBody(extra: #""params": {"demo": {"sleep_ms": 20000}}"#)
            var aJobs: [String] = []
            for _ in 0..<6 { aJobs.append(try await create(api, env, slow)) }
            try await harness.waitForEvent { event in
                harness.events.events.filter { if case .started = $0 { true } else { false } }.count >= 2
            }
            let bJob = try await create(
                api, env, jobBody(org: TestEnvironment.orgB, extra: #""params": {"demo": {"sleep_ms": 20000}}"#),
                token: env.writeB)
            try await harness.waitForEvent { if case .started(let task) = $0 { task.job.id == bJob } else { false } }
            let startedA = harness.events.events.filter {
                if case .started(let task) = $0 { task.job.orgID == TestEnvironment.orgA } else { false }
            }
            #expect(startedA.count == 2, "org A holds only its cap of 2 of the 4 slots")
            let waiting = try await env.store.listJobs(
                JobQuery(orgID: TestEnvironment.orgA, statuses: [.waiting], limit: 20))
            #expect(waiting.total == 4, "the rest of A's backlog waits")
            _ = aJobs
        }
    }

    @Test("race a: a cancel heard before its claimed task registers still stops it; a stopped task never launches")
    func cancelBeforeRegistration() async throws {
        let inFlight = InFlightTasks()
        let claimed = AgentBoundaryTests.claimed(.demo)
        inFlight.jobCanceled(claimed.job.id, at: Date())
        let entry = inFlight.add(claimed)
        #expect(entry.interrupted.hasFired)
        #expect(inFlight.interruption(of: claimed.task.id) == .canceled)

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("race-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let marker = directory.appendingPathComponent("ran").path
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return await CommandExecutor().run(AgentBoundaryTests.claimed(.command("touch \(marker)")))
        }
        #expect(await task.value == .failed(error: "interrupted", retryable: true))
        #expect(!FileManager.default.fileExists(atPath: marker), "the program was never launched")
    }

    @Test(
        "one watchdog for every in-flight task: lease first, then its run limit (deadline or timeout), and the next wake"
    )
    func overdueTasks() {
        let inFlight = InFlightTasks()
        let now = ContinuousClock.now
        let lease = AgentBoundaryTests.claimed(.demo)
        let deadline = AgentBoundaryTests.claimed(.demo)
        let timeout = AgentBoundaryTests.claimed(.demo)
        let later = AgentBoundaryTests.claimed(.demo)
        _ = inFlight.add(
            lease, trustedUntil: now - .seconds(1), runLimit: RunLimit(at: now - .seconds(1), reason: .deadline))
        _ = inFlight.add(deadline, trustedUntil: now + .seconds(60), runLimit: RunLimit(at: now, reason: .deadline))
        _ = inFlight.add(
            timeout, trustedUntil: now + .seconds(60), runLimit: RunLimit(at: now - .seconds(2), reason: .timeout))
        _ = inFlight.add(
            later, trustedUntil: now + .seconds(60), runLimit: RunLimit(at: now + .seconds(5), reason: .timeout))
        let (overdue, earliest) = inFlight.overdue(at: now)
        let reasons = Dictionary(uniqueKeysWithValues: overdue.map { ($0.taskID, $0.reason) })
        #expect(reasons == [lease.task.id: .taskEnded, deadline.task.id: .deadline, timeout.task.id: .timeout])
        #expect(earliest == now + .seconds(5))
        // An interrupted task is not looked at again.
        inFlight.interrupt(taskID: deadline.task.id, because: .deadline)
        #expect(inFlight.overdue(at: now).tasks.map(\.taskID).contains(deadline.task.id) == false)

        // A claim's limit: the earlier of the job's deadline and the task's timeout, from its start.
        var claimed = AgentBoundaryTests.claimed(.demo, timeoutMinutes: 1)
        let byTimeout = RunLimit(of: claimed, now: now)
        #expect(byTimeout.reason == .timeout)
        #expect(
            byTimeout.at == now + .milliseconds(Int64(claimed.timeoutAt.timeIntervalSince(claimed.startedAt) * 1000)))
        claimed.deadline = claimed.startedAt + 30
        let byDeadline = RunLimit(of: claimed, now: now)
        #expect(byDeadline.reason == .deadline)
        #expect(byDeadline.at == now + .seconds(30))
    }

    @Test("the running count per org follows the tasks that register and leave, as a claim reads it")
    func runningPerOrgFollowsTasks() {
        let inFlight = InFlightTasks()
        var tasks: [ClaimedTask] = []
        for org in ["org-a", "org-a", "org-b"] {
            var claimed = AgentBoundaryTests.claimed(.demo)
            claimed.job.orgID = org
            tasks.append(claimed)
            _ = inFlight.add(claimed)
        }
        #expect(inFlight.runningPerOrg == ["org-a": 2, "org-b": 1])
        // A task registered again (a re-claim of the same id) counts once.
        _ = inFlight.add(tasks[0])
        #expect(inFlight.runningPerOrg == ["org-a": 2, "org-b": 1])
        inFlight.remove(tasks[2].task.id)
        inFlight.remove(tasks[0].task.id)
        inFlight.remove(tasks[0].task.id)
        #expect(inFlight.runningPerOrg == ["org-a": 1])
        inFlight.remove(tasks[1].task.id)
        #expect(inFlight.runningPerOrg.isEmpty)
    }

    @Test("race c: a real outcome that arrives during the shutdown drain is recorded as that outcome")
    func outcomeDuringDrain() {
        let done = TaskOutcome.completed(result: "done")
        #expect(TaskRunner.outcomeToRecord(.executor(done), interruption: .shutdown, engineCancelled: false) == done)
        #expect(
            TaskRunner.outcomeToRecord(.interrupted, interruption: .shutdown, engineCancelled: false) == .handedBack)
        #expect(TaskRunner.outcomeToRecord(.executor(done), interruption: .canceled, engineCancelled: false) == nil)
        #expect(TaskRunner.outcomeToRecord(.executor(done), interruption: nil, engineCancelled: true) == .handedBack)
        #expect(
            TaskRunner.outcomeToRecord(.timeout, interruption: nil, engineCancelled: false)
                == .failed(error: "task timeout exceeded", retryable: true))
    }

    @Test(
        "race b: the PostgreSQL rescue re-checks the lease under its row locks",
        .enabled(if: StoreKind.postgresURL != nil))
    func rescueRechecksLease() async throws {
        let env = try await TestEnvironment.make(.postgres)
        let store = try #require(env.store as? PostgresJobStore)
        let now = env.clock.now()
        let submission = JobSubmission(
            targetChannel: TargetChannel(orgID: TestEnvironment.orgA, platform: "slack", type: "channel", code: "C1"),
            jobTypeID: "daily-report", scheduledAt: now)
        let jobType = try #require(try await store.jobType(id: "daily-report"))
        let newJob = submission.makeJob(id: Identifier.make(prefix: "job"), jobType: jobType, now: now, jitter: 0)
        _ = try await store.createJob(newJob, idempotency: nil, at: now)
        let claimed = try #require(
            try await store.claimDueTasks(
                ClaimRequest(limit: 1, now: now, worker: "w1", leaseUntil: now.addingTimeInterval(15))
            ).first)
        env.clock.advance(seconds: 20)  // The lease has expired by then.
        let later = env.clock.now()
        let blocker = try openStore(env.databaseURL)
        let blockerStore = try #require(blocker.store as? PostgresJobStore)
        let holding = AsyncSignal()
        let release = AsyncSignal()
        let connectionLogger = Logger(label: "test")
        // Another transaction holds the job row, so the rescue blocks after its first select.
        let holder = Task {
            try await blockerStore.client.withTransaction(logger: connectionLogger) { connection in
                _ = try await connection.query(
                    "SELECT id FROM jobs WHERE id = \(claimed.job.id) FOR UPDATE", logger: connectionLogger
                ).collect()
                holding.signal()
                await release.waitUntilFired(timeout: .seconds(30))
            }
        }
        #expect(await holding.waitUntilFired(timeout: .seconds(30)))
        let rescue = Task { try await store.rescueExpiredLeases(now: later) }
        // Wait until the rescue waits for the lock (an observable state, not a pause).
        while try await blockerStore.client.query(
            "SELECT count(*)::int FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        ).collect().first?.decode(Int.self) == 0 {
            await Task.yield()
        }
        // Meanwhile the worker renews its lease.
        let lost = try await store.renewLeases(
            taskIDs: [claimed.task.id], worker: "w1", now: later, leaseDuration: 60)
        #expect(lost.isEmpty)
        release.signal()
        try await holder.value
        #expect(try await rescue.value.isEmpty, "the renewed task was not rescued")
        let job = try #require(try await store.job(id: claimed.job.id))
        #expect(job.tasks.map(\.status) == [.running])
        withExtendedLifetime(blocker) {}
    }

    @Test(
        "PostgreSQL takes time from the database: a node whose clock is off neither starts jobs early nor rescues healthy tasks",
        .enabled(if: StoreKind.postgresURL != nil))
    func databaseClock() async throws {
        let env = try await TestEnvironment.make(.postgres, start: Date())
        let store = try #require(env.store as? PostgresJobStore)
        let realNow = Date()
        let submission = JobSubmission(
            targetChannel: TargetChannel(orgID: TestEnvironment.orgA, platform: "slack", type: "channel", code: "C1"),
            jobTypeID: "daily-report", scheduledAt: realNow.addingTimeInterval(60))
        let jobType = try #require(try await store.jobType(id: "daily-report"))
        let later = submission.makeJob(id: Identifier.make(prefix: "job"), jobType: jobType, now: realNow, jitter: 0)
        _ = try await store.createJob(later, idempotency: nil, at: realNow)
        let dueNow = JobSubmission(
            targetChannel: TargetChannel(orgID: TestEnvironment.orgA, platform: "slack", type: "channel", code: "C1"),
            jobTypeID: "daily-report"
        ).makeJob(id: Identifier.make(prefix: "job"), jobType: jobType, now: realNow, jitter: 0)
        _ = try await store.createJob(dueNow, idempotency: nil, at: realNow)
        // A node two minutes ahead claims: only the job due now by the database's clock.
        let ahead = realNow.addingTimeInterval(120)
        let claimed = try await store.claimDueTasks(
            ClaimRequest(limit: 10, now: ahead, worker: "fast", leaseUntil: ahead.addingTimeInterval(15)))
        #expect(claimed.map(\.job.id) == [dueNow.id], "the job due in a minute was not started early")
        let task = try #require(claimed.first)
        #expect(abs(task.startedAt.timeIntervalSince(realNow)) < 30, "the task's start is the database's time")
        #expect(abs(task.task.startedAt!.timeIntervalSince(Date())) < 30)
        // The lease is 15 s from the database's now, not from the node's clock.
        let wake = try await store.wakeTimes()
        let expiry = try #require(wake.nextLeaseExpiry)
        #expect(expiry.timeIntervalSince(try #require(wake.observedAt)) <= 15.001)
        // The same node sweeps: the healthy task is not rescued, though its clock says expired.
        #expect(try await store.rescueExpiredLeases(now: ahead.addingTimeInterval(60)).isEmpty)
        #expect(try await store.failJobsPastDeadline(now: ahead.addingTimeInterval(7200)).isEmpty)
    }
}

extension EngineHardeningTests {
    @Test(
        "a worker that cannot renew its lease stops its program before another node's retry starts",
        arguments: StoreKind.available)
    func leaseWatchdog(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind, start: Date())
        let scripts = try Scripts(in: env.directory)
        let starts = scripts.path("starts")
        try await env.commandType(
            "long",
            try scripts.write(
                "long",
                """
                echo $$ >> '\(starts)'
                sleep 30 &
                wait
                """))
        let nodeA = InstrumentedQueue(env.store)
        // Node A: loses the database for its lease renewals. Node B: healthy, rescues and retries.
        let lease = EngineConfiguration(
            concurrency: 2, leaseDuration: .seconds(6), heartbeatInterval: .seconds(1),
            drainTimeout: .milliseconds(100), workerID: "node-a", leaseMargin: .seconds(3))
        var executors = ExecutorRegistry()
        // The watchdog stops the program 3 s before its lease runs out; SIGKILL follows after 2 s.
        executors.register(.command, CommandExecutor(configuration: .init(killGrace: .seconds(2))))
        var logger = Logger(label: "lease-watchdog")
        logger.logLevel = .critical
        let events = EventLog()
        // At the instant a node (either: A still claims) starts the retry, before its program
        // launches: is the first program (the first pid written) still running?
        let firstProgramAliveAtRetry = Mutex<Bool?>(nil)
        let observer: @Sendable (EngineEvent) -> Void = { event in
            if case .started(let claimed) = event, claimed.task.attempt == 2 {
                let firstPID = (try? String(contentsOfFile: starts, encoding: .utf8))?
                    .split(separator: "\n").first.flatMap { pid_t($0) }
                firstProgramAliveAtRetry.withLock { $0 = firstPID.map(ProcessTable.isRunning) ?? true }
            }
            events.record(event)
        }
        let engineA = JobEngine(
            queue: nodeA, executors: executors, configuration: lease, logger: logger, observer: observer)
        var healthy = lease
        healthy.workerID = "node-b"
        let engineB = JobEngine(
            queue: env.store, executors: executors, configuration: healthy, logger: logger, observer: observer)
        let groupA = ServiceGroup(
            configuration: .init(services: [engineA], gracefulShutdownSignals: [], logger: logger))
        let runningA = Task { try await groupA.run() }
        let now = Date()
        let job = JobSubmission(
            targetChannel: TargetChannel(orgID: TestEnvironment.orgA, platform: "slack", type: "channel", code: "C1"),
            jobTypeID: "long", config: .init(maxTaskRetries: 1, taskRetryInterval: 0)
        ).makeJob(
            id: Identifier.make(prefix: "job"), jobType: try #require(try await env.store.jobType(id: "long")),
            now: now, jitter: 0)
        _ = try await env.store.createJob(job, idempotency: nil, at: now)
        engineA.wake()
        let harness = EngineHarness(env: env, engine: engineA, events: events)
        _ = try await harness.waitForJob(job.id) { $0.tasks.count == 1 }
        while (try? String(contentsOfFile: starts, encoding: .utf8)) == nil { await Task.yield() }
        nodeA.cutOff.withLock { $0 = true }
        // Node B starts now; it will rescue the task once A's lease has run out.
        let groupB = ServiceGroup(
            configuration: .init(services: [engineB], gracefulShutdownSignals: [], logger: logger))
        let runningB = Task { try await groupB.run() }
        let retried = try await harness.waitForJob(job.id, timeout: .seconds(30)) {
            $0.tasks.count == 2 && $0.tasks[1].startedAt != nil
        }
        await groupA.triggerGracefulShutdown()
        await groupB.triggerGracefulShutdown()
        _ = try? await runningA.value
        _ = try? await runningB.value
        #expect(retried.tasks[0].status == .failed && retried.tasks[0].error == JobStateMachine.workerLost)
        #expect(
            firstProgramAliveAtRetry.withLock { $0 } == false,
            "node A's program (stopped by its watchdog, killed after the grace) is gone when node B starts the retry")
    }
}
