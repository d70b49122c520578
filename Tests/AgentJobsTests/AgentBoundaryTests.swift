import AgentJobsCore
import AsyncHTTPClient
import Foundation
import Hummingbird
import Synchronization
import Testing

@testable import AgentJobsEngine

#if canImport(Glibc)
import Glibc
#endif

/// The boundary with agent programs and agent runtimes (issue: "airtight"): launching never
/// crashes, stopping a task stops its whole process tree, programs see only an explicit
/// environment, replies and outputs are checked, HTTP calls follow no redirects.
@Suite("Agent boundary")
struct AgentBoundaryTests {
    static let now = Date()

    /// A task of a job type run by `executor`, as a claim makes it.
    static func claimed(
        _ executor: ExecutorSpec, environment: [EnvironmentVariable] = [], timeoutMinutes: Double = 60,
        tasks: [JobTask] = []
    ) -> ClaimedTask {
        let jobID = Identifier.make(prefix: "job")
        let job = Job(
            id: jobID, orgID: "org-a", jobTypeID: "t",
            targetChannel: TargetChannel(orgID: "org-a", platform: "slack", type: "channel", code: "C1"),
            status: .running, config: .defaults, params: [:], createdAt: now, updatedAt: now, scheduledAt: now,
            tasks: tasks)
        let task = JobTask(
            id: Identifier.make(prefix: "task"), jobID: jobID, kind: .initial, attempt: tasks.count + 1,
            status: .running, createdAt: Date(), startedAt: Date())
        let jobType = JobType(
            id: "t", orgID: nil, executor: executor, defaultConfig: .init(), environment: environment,
            taskTimeoutMinutes: timeoutMinutes, createdAt: now)
        return ClaimedTask(job: job, task: task, jobType: jobType, deadline: Date() + 3600, dueAt: Date())
    }

    /// Whether a process is still running (a zombie left to PID 1 counts as gone).
    static func isRunning(_ pid: pid_t) -> Bool { ProcessTable.isRunning(pid) }

    /// The pid a program wrote to `path`, once it is there in full.
    static func pid(in path: String) -> pid_t? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8), text.hasSuffix("\n") else { return nil }
        return pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Waits (bounded) for a program to write its pid to `path`.
    static func readPID(_ path: String) async throws -> pid_t {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let pid = pid(in: path) { return pid }
            await Task.yield()
        }
        return try #require(pid(in: path))
    }

    @Test("thousands of launches at concurrency 64 do not crash the server, and every one reports")
    func launchStress() async throws {
        // CI runs 1,000; AGENT_JOBS_LAUNCH_STRESS=N runs N (the closing note's figure).
        let launches = Int(ProcessInfo.processInfo.environment["AGENT_JOBS_LAUNCH_STRESS"] ?? "") ?? 1000
        let executor = CommandExecutor()
        let task = Self.claimed(.command("sh -c 'read -r line; echo ok'"))
        let completed = try await withThrowingTaskGroup(of: Bool.self) { group in
            var started = 0
            var completed = 0
            for _ in 0..<min(64, launches) {
                started += 1
                group.addTask { await executor.run(task) == .completed(result: "ok") }
            }
            while let result = try await group.next() {
                if result { completed += 1 }
                if started < launches {
                    started += 1
                    group.addTask { await executor.run(task) == .completed(result: "ok") }
                }
            }
            return completed
        }
        #expect(completed == launches)
        print("launch stress: \(launches) launches at concurrency 64, \(completed) completed, 0 crashes")
    }

    @Test("cancel stops the whole process tree: a grandchild that waits is gone when the task ends")
    func cancelStopsTheTree() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("boundary-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let scripts = try Scripts(in: directory)
        let pidFile = scripts.path("grandchild.pid")
        // sh starts a second program (the "python agent.py") and waits for it.
        let agent = try scripts.write("agent", "sleep 300 &\necho $! > '\(pidFile)'\nwait")
        let executor = CommandExecutor(configuration: .init(killGrace: .seconds(2)))
        let task = Task { await executor.run(Self.claimed(.command(agent))) }
        let grandchild = try await Self.readPID(pidFile)
        #expect(Self.isRunning(grandchild))
        task.cancel()
        #expect(await task.value == .failed(error: "interrupted", retryable: true))
        #expect(!Self.isRunning(grandchild), "the grandchild was stopped with its parent")
    }

    @Test("SIGKILL reaches the group after the grace even when the leader already exited")
    func killAfterLeaderExits() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("boundary-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let scripts = try Scripts(in: directory)
        let pidFile = scripts.path("stubborn.pid")
        // The grandchild ignores SIGTERM; the leader exits on SIGTERM at once.
        let agent = try scripts.write(
            "agent", "sh -c 'trap \"\" TERM; while :; do sleep 1; done' &\necho $! > '\(pidFile)'\nwait")
        let executor = CommandExecutor(configuration: .init(killGrace: .milliseconds(300)))
        let task = Task { await executor.run(Self.claimed(.command(agent))) }
        let stubborn = try await Self.readPID(pidFile)
        task.cancel()
        _ = await task.value
        #expect(!Self.isRunning(stubborn), "killed after the grace")
    }

    @Test("a program that finishes leaves nothing running behind")
    func nothingOutlivesItsTask() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("boundary-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let scripts = try Scripts(in: directory)
        let pidFile = scripts.path("left.pid")
        let agent = try scripts.write("agent", "sleep 300 > /dev/null 2>&1 &\necho $! > '\(pidFile)'\necho done")
        let outcome = await CommandExecutor(configuration: .init(killGrace: .milliseconds(300)))
            .run(Self.claimed(.command(agent)))
        #expect(outcome == .completed(result: "done"))
        #expect(!Self.isRunning(try await Self.readPID(pidFile)))
    }

    @Test(
        "a program that exits while a process it left holds its stdout and stderr completes, and that process ends",
        .timeLimit(.minutes(1)))
    func leftoverHoldingThePipes() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("boundary-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let scripts = try Scripts(in: directory)
        let pidFile = scripts.path("holder.pid")
        // The background `sleep` inherits both pipes: the reading ends only when it does.
        let agent = try scripts.write("agent", "sleep 300 &\necho $! > '\(pidFile)'\necho done")
        let outcome = await CommandExecutor(configuration: .init(killGrace: .milliseconds(300)))
            .run(Self.claimed(.command(agent)))
        #expect(outcome == .completed(result: "done"))
        #expect(!Self.isRunning(try await Self.readPID(pidFile)))
    }

    @Test("a program gets PATH, HOME, LANG, LC_ALL, TZ, TMPDIR and its job type's variables, nothing else")
    func explicitEnvironment() async throws {
        let server = [
            "PATH": "/usr/bin:/bin", "HOME": "/home/agent-jobs", "TZ": "UTC",
            "AGENT_JOBS_DATABASE_URL": "postgres://user:hunter2@db/jobs", "SLACK_TOKEN": "xoxb-secret",
            "OTHER": "nope",
        ]
        let executor = CommandExecutor(configuration: .init(serverEnvironment: server))
        let outcome = await executor.run(
            Self.claimed(
                .command("env"),
                environment: [
                    EnvironmentVariable(name: "SLACK_TOKEN", value: .passThrough),
                    EnvironmentVariable(name: "MODE", value: .set("a=b c")),
                    EnvironmentVariable(name: "UNSET_ON_SERVER", value: .passThrough),
                ]))
        guard case .completed(let printed) = outcome else {
            Issue.record("env did not complete: \(outcome)")
            return
        }
        let lines = Set(printed.split(separator: "\n").map(String.init))
        #expect(
            lines == [
                "PATH=/usr/bin:/bin", "HOME=/home/agent-jobs", "TZ=UTC", "SLACK_TOKEN=xoxb-secret", "MODE=a=b c",
            ])
        #expect(!printed.contains("hunter2"), "the database password never reaches an agent")
    }

    @Test(
        "--env parsing: NAME passes through, NAME=VALUE sets; bad names are refused",
        arguments: [
            ("TOKEN", EnvironmentVariable(name: "TOKEN", value: .passThrough)),
            ("MODE=fast=yes", EnvironmentVariable(name: "MODE", value: .set("fast=yes"))),
            ("EMPTY=", EnvironmentVariable(name: "EMPTY", value: .set(""))),
        ])
    func environmentParsing(text: String, expected: EnvironmentVariable) throws {
        #expect(try EnvironmentVariable.parse(text) == expected)
    }

    @Test("invalid --env names", arguments: ["", "1ABC", "A-B", "A B=c", "=x"])
    func invalidEnvironmentNames(text: String) {
        #expect(throws: AgentJobsError.self) { try EnvironmentVariable.parse(text) }
    }

    @Test("previous_tasks keeps the last 20 tasks and at most 256 KiB of their text, and says how many it left out")
    func previousTasksStaySmall() throws {
        let big = String(repeating: "x", count: 100 * 1024)
        var tasks: [JobTask] = []
        for attempt in 1...30 {
            tasks.append(
                JobTask(
                    id: "task_\(attempt)", jobID: "j", kind: .followUp, attempt: attempt, status: .completed,
                    createdAt: Self.now, result: attempt >= 29 ? big : "r\(attempt)"))
        }
        let few = Self.claimed(.demo, tasks: Array(tasks.prefix(25))).document
        #expect(few.previousTasks.map(\.attempt) == Array(6...25))
        #expect(few.previousTasksOmitted == 5)
        let heavy = Self.claimed(.demo, tasks: tasks).document
        // The two last results are 200 KiB together; a third large one would pass 256 KiB.
        #expect(heavy.previousTasks.last?.attempt == 30)
        #expect(heavy.previousTasks.count == 20)
        let text = heavy.previousTasks.reduce(0) { $0 + ($1.result?.utf8.count ?? 0) }
        #expect(text <= TaskDocument.maxPreviousResultBytes)
        #expect(heavy.previousTasksOmitted == 10)
        let encoded = String(decoding: heavy.encoded(), as: UTF8.self)
        #expect(encoded.contains(#""previous_tasks_omitted":10"#))
    }
}

/// The HTTP executor's boundary: no redirects, capped bodies, checked replies.
@Suite("Agent boundary: HTTP")
struct HTTPBoundaryTests {
    @Test("a redirect is not followed; a body over 1 MiB fails; a reply with a wrong field type fails naming it")
    func httpBoundary() async throws {
        let followed = Mutex(0)
        let router = Router()
        router.post("/moved") { _, _ in
            Response(status: .found, headers: [.location: "/elsewhere"])
        }
        router.post("/elsewhere") { _, _ -> Response in
            followed.withLock { $0 += 1 }
            return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: #"{"status": "completed"}"#)))
        }
        router.post("/huge") { _, _ in
            Response(
                status: .ok, body: .init(byteBuffer: ByteBuffer(repeating: UInt8(ascii: "a"), count: (1 << 20) + 1)))
        }
        router.post("/typed") { _, _ in
            Response(
                status: .ok,
                body: .init(byteBuffer: ByteBuffer(string: #"{"status": "follow_up", "after_minutes": "soon"}"#)))
        }
        let stub = try await StubAgent(router)
        defer { stub.stop() }
        let port = stub.port
        let client = AgentHTTPClient()
        // Both ways an agent is called: AsyncHTTPClient, and `PlainHTTPClient` for `http://`.
        for executor in [HTTPExecutor(client: client.client), HTTPExecutor(clients: client)] {
            await Self.checkBoundary(executor, port: port, followed: { followed.withLock { $0 } })
        }
        try await client.shutdown()
    }

    static func checkBoundary(_ executor: HTTPExecutor, port: Int, followed: () -> Int) async {
        func call(_ path: String) async -> TaskOutcome {
            await executor.run(AgentBoundaryTests.claimed(.http(url: "http://127.0.0.1:\(port)\(path)", secret: "s")))
        }
        let moved = await call("/moved")
        let huge = await call("/huge")
        let typed = await call("/typed")
        guard case .failed(let movedError, _) = moved else {
            Issue.record("redirect: \(moved)")
            return
        }
        #expect(movedError.contains("302"))
        #expect(followed() == 0, "the document was not re-sent to Location")
        #expect(huge == .failed(error: "output exceeds 1 MiB", retryable: true))
        guard case .failed(let typedError, _) = typed else {
            Issue.record("typed: \(typed)")
            return
        }
        #expect(typedError.hasPrefix("invalid executor reply: after_minutes"))
    }
}

extension HTTPBoundaryTests {
    @Test("as many agent requests in flight at once as the engine has slots (no per-host pool cap)")
    func manyRequestsInFlight() async throws {
        // Ten clients of 30 connections each (one per 32 slots, rounded up), taken in turn.
        let slots = 300
        let inFlight = Mutex(0)
        let allArrived = AsyncSignal()
        let router = Router()
        router.post("/slow") { _, _ in
            // Answers only once every request is in flight at the same time (or gives up).
            let count = inFlight.withLock { count -> Int in
                count += 1
                return count
            }
            if count == slots { allArrived.signal() }
            let together = await allArrived.waitUntilFired(timeout: .seconds(20))
            return Response(
                status: together ? .ok : .serviceUnavailable, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: #"{"status": "completed", "result": "done"}"#)))
        }
        let stub = try await StubAgent(router)
        defer { stub.stop() }
        let port = stub.port
        let client = AgentHTTPClient(maxConnectionsPerHost: slots)
        #expect(client.clients.count == 10)
        let executor = HTTPExecutor(clients: client)
        let task = AgentBoundaryTests.claimed(.http(url: "http://127.0.0.1:\(port)/slow", secret: "s"))
        let outcomes = await withTaskGroup(of: TaskOutcome.self) { group in
            for _ in 0..<slots { group.addTask { await executor.run(task) } }
            return await group.reduce(into: [TaskOutcome]()) { $0.append($1) }
        }
        try await client.shutdown()
        #expect(outcomes.filter { $0 == .completed(result: "done") }.count == slots, "\(Set(outcomes.map { "\($0)" }))")
    }
}

/// A local agent runtime for HTTP boundary tests, on a free port of 127.0.0.1.
struct StubAgent {
    let port: Int
    private let server: Task<Void, any Error>

    init<Context: RequestContext>(_ router: Router<Context>) async throws
    where Context: InitializableFromSource<ApplicationRequestContextSource> {
        let (ports, portContinuation) = AsyncStream<Int>.makeStream()
        let stub = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { portContinuation.yield($0.localAddress?.port ?? 0) })
        server = Task { try await stub.runService() }
        var iterator = ports.makeAsyncIterator()
        port = try #require(await iterator.next())
    }

    func stop() { server.cancel() }
}
