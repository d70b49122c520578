import AgentJobsCore
import AsyncHTTPClient
import Foundation
import NIOCore
import Subprocess
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A TCP socket bound to a free port on 127.0.0.1 (the caller closes it).
func boundSocket() -> (descriptor: Int32, port: Int) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
    }
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return (fd, Int(UInt16(bigEndian: address.sin_port)))
}

/// A free TCP port on 127.0.0.1.
func freePort() throws -> Int {
    let (fd, port) = boundSocket()
    close(fd)
    return port
}

@Suite("Crash recovery", .serialized)
struct CrashRecoveryTests {
    @Test("kill -9 of serve mid-task: after restart every job finishes, one task per attempt, none lost")
    func killNine() async throws {
        let env = try await TestEnvironment.make(start: Date())
        let db = env.databaseURL
        let scripts = try Scripts(in: env.directory)
        let log = scripts.path("executions.log")
        let script = try scripts.write(
            "logged",
            """
            doc=$(cat)
            tid=$(printf '%s' "$doc" | sed -n 's/.*"task_id":"\\([^"]*\\)".*/\\1/p')
            echo "$tid" >> '\(log)'
            sleep 1
            echo "done $tid"
            """)
        #expect(
            try await CLI.run(
                ["job-types", "create", "logged", "--executor", "command", "--command", script], database: db
            )
            .status == 0)
        let token = try await CLI.run(
            ["tokens", "create", "--org", TestEnvironment.orgA, "--access", "services:write"], database: db
        )
        .stdout.trimmingCharacters(in: .whitespacesAndNewlines)

        let client = HTTPClient.shared
        let port = try freePort()
        let arguments = ["--concurrency", "4", "--lease-seconds", "2", "--log-level", "warning"]
        let first = try await ServeProcess(
            database: db, port: port, arguments: arguments, output: env.directory.appendingPathComponent("serve1.log"))
        try await first.waitUntilReady(client)

        let jobCount = 12
        var ids: [String] = []
        for index in 0..<jobCount {
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/services/agent-jobs")
            request.method = .POST
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(
                ByteBuffer(
                    string: jobBody(
                        jobType: "logged", code: "C\(index)",
                        extra: #""config": {"max_task_retries": 3, "task_retry_interval": 0}"#)))
            let response = try await client.execute(request, timeout: .seconds(10))
            let body = try await response.body.collect(upTo: 1 << 20)
            #expect(response.status == .created)
            ids.append(try #require(JSONTree(data: body)["data"]["job_id"].string))
        }

        // Kill while tasks run: wait (bounded) until the executor log shows work in flight.
        func executions() -> [String] {
            ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }
        for _ in 0..<200 where executions().count < 6 { try await Task.sleep(for: .milliseconds(25)) }
        await first.kill9()
        let startedBeforeKill = executions().count
        let afterKill = try await env.store.listJobs(JobQuery(orgID: TestEnvironment.orgA, limit: 200))
        let inFlightAtKill = afterKill.jobs.filter { $0.tasks.contains { $0.status == .running } }.count
        let finishedAtKill = afterKill.jobs.filter(\.status.isTerminal).count
        #expect(inFlightAtKill > 0, "the kill happened mid-task")

        let second = try await ServeProcess(
            database: db, port: port, arguments: arguments, output: env.directory.appendingPathComponent("serve2.log"))
        defer { second.sendTerminate() }
        try await second.waitUntilReady(client)
        var jobs: [Job] = []
        for _ in 0..<600 {
            jobs = try await env.store.listJobs(JobQuery(orgID: TestEnvironment.orgA, limit: 200)).jobs
            if jobs.count == jobCount && jobs.allSatisfy(\.status.isTerminal) { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        let metrics = try await client.execute(
            HTTPClientRequest(url: "http://127.0.0.1:\(port)/metrics"), timeout: .seconds(5))
        let exposition = String(buffer: try await metrics.body.collect(upTo: 1 << 20))
        await second.terminate()
        #expect(metrics.status == .ok)
        for series in [
            "agent_jobs_tasks_started_total", "agent_jobs_tasks_finished_total{outcome=\"completed\"}",
            "agent_jobs_task_duration_seconds_bucket", "agent_jobs_due_to_start_lag_seconds_bucket",
            "agent_jobs_jobs{status=\"COMPLETED\"}",
        ] {
            #expect(exposition.contains(series), "/metrics has \(series)")
        }

        #expect(Set(jobs.map(\.id)) == Set(ids), "no job lost")
        #expect(jobs.allSatisfy { $0.status == .completed }, "\(jobs.map { ($0.id, $0.status, $0.result ?? "") })")
        var duplicatedAttempts = 0
        for job in jobs {
            let attempts = job.tasks.map(\.attempt)
            #expect(attempts == Array(1...attempts.count), "attempts \(attempts) of \(job.id)")
            duplicatedAttempts += attempts.count - Set(attempts).count
            #expect(job.tasks.filter { $0.status == .completed }.count == 1)
            #expect(job.tasks.dropLast().allSatisfy { $0.status == .failed && $0.error == "worker lost" })
        }
        let runs = executions()
        let duplicatedRuns = runs.count - Set(runs).count
        let allTaskIDs = Set(jobs.flatMap { $0.tasks.map(\.id) })
        #expect(duplicatedRuns == 0, "no task ran twice")
        #expect(Set(runs) == allTaskIDs, "every task record ran exactly once, and every run has a record")
        let lost = jobCount - jobs.filter { $0.status == .completed }.count
        print(
            "kill -9 outcome: jobs=\(jobCount) in_flight_at_kill=\(inFlightAtKill) finished_before_kill=\(finishedAtKill) "
                + "executions_before_kill=\(startedBeforeKill) finished=\(jobs.filter(\.status.isTerminal).count) "
                + "duplicated_attempts=\(duplicatedAttempts + duplicatedRuns) lost=\(lost)")
    }

    @Test(
        "kill -9 during a burst of creates: every acknowledged create is in the database",
        arguments: StoreKind.available)
    func acknowledgedCreatesSurvive(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind, start: Date())
        let client = HTTPClient.shared
        let port = try freePort()
        let server = try await ServeProcess(
            database: env.databaseURL, port: port, arguments: ["--role", "api", "--log-level", "warning"],
            output: env.directory.appendingPathComponent("serve.log"))
        defer { server.sendTerminate() }
        try await server.waitUntilReady(client)
        let acknowledged = Acknowledged()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<16 {
                group.addTask {
                    for index in 0..<200 {
                        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/services/agent-jobs")
                        request.method = .POST
                        request.headers.add(name: "Authorization", value: "Bearer \(env.writeA)")
                        request.headers.add(name: "Content-Type", value: "application/json")
                        request.body = .bytes(ByteBuffer(string: jobBody(code: "W\(worker)-\(index)")))
                        guard let response = try? await client.execute(request, timeout: .seconds(5)),
                            let body = try? await response.body.collect(upTo: 1 << 20)
                        else { return }  // the server is gone
                        if response.status == .created, let id = JSONTree(data: body)["data"]["job_id"].string {
                            acknowledged.append(id)
                        }
                    }
                }
            }
            group.addTask {
                while acknowledged.count < 300 { try await Task.sleep(for: .milliseconds(5)) }
                await server.kill9()
            }
            try await group.waitForAll()
        }
        let ids = acknowledged.ids
        #expect(ids.count >= 300)
        let reopened = try openStore(env.databaseURL)
        var missing = 0
        for id in ids where try await reopened.store.job(id: id) == nil { missing += 1 }
        #expect(missing == 0, "\(missing) of \(ids.count) acknowledged creates were lost")
        print("kill -9 during creates (\(kind.rawValue)): acknowledged=\(ids.count) lost=\(missing)")
    }
}

extension CrashRecoveryTests {
    @Test("SIGTERM: a task that fits in the drain time finishes, a longer one is handed back and runs after restart")
    func gracefulShutdown() async throws {
        let env = try await TestEnvironment.make(start: Date())
        let scripts = try Scripts(in: env.directory)
        let started = scripts.path("long-started")
        try await env.commandType("short", try scripts.write("short", "sleep 1\necho 'short done'"))
        try await env.commandType(
            "long",
            try scripts.write(
                "long",
                """
                if [ -f '\(started)' ]; then echo 'long done on restart'; exit 0; fi
                touch '\(started)'
                exec sleep 30
                """))
        let client = HTTPClient.shared
        let port = try freePort()
        let arguments = ["--drain-seconds", "3", "--log-level", "warning"]
        let first = try await ServeProcess(
            database: env.databaseURL, port: port, arguments: arguments,
            output: env.directory.appendingPathComponent("a.log"))
        defer { first.sendTerminate() }
        try await first.waitUntilReady(client)
        var ids: [String: String] = [:]
        for type in ["long", "short"] {
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/services/agent-jobs")
            request.method = .POST
            request.headers.add(name: "Authorization", value: "Bearer \(env.writeA)")
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: jobBody(jobType: type)))
            let response = try await client.execute(request, timeout: .seconds(10))
            ids[type] = JSONTree(data: try await response.body.collect(upTo: 1 << 20))["data"]["job_id"].string
        }
        for _ in 0..<400 where !FileManager.default.fileExists(atPath: started) {
            try await Task.sleep(for: .milliseconds(10))
        }
        let shortJob = try #require(ids["short"])
        let longJob = try #require(ids["long"])
        for _ in 0..<400 where try await env.store.job(id: shortJob)?.status != .running {
            try await Task.sleep(for: .milliseconds(10))
        }

        let signalled = ContinuousClock.now
        let status = await first.terminate()
        let stopTime = ContinuousClock.now - signalled
        #expect(status == .exited(0))
        #expect(stopTime < .seconds(10), "stopped within drain time and kill grace: \(stopTime)")
        let short = try #require(try await env.store.job(id: shortJob))
        #expect(short.status == .completed, "the short task finished during the drain")
        #expect(short.result == "short done")
        let handedBack = try #require(try await env.store.job(id: longJob))
        #expect(handedBack.status == .running)
        #expect(handedBack.tasks.map(\.status) == [.failed])
        #expect(handedBack.tasks.first?.error == JobStateMachine.handedBack)

        let second = try await ServeProcess(
            database: env.databaseURL, port: port, arguments: arguments,
            output: env.directory.appendingPathComponent("b.log"))
        defer { second.sendTerminate() }
        try await second.waitUntilReady(client)
        for _ in 0..<1000 where try await env.store.job(id: longJob)?.status != .completed {
            try await Task.sleep(for: .milliseconds(10))
        }
        let finished = try #require(try await env.store.job(id: longJob))
        #expect(finished.status == .completed)
        #expect(finished.result == "long done on restart")
        #expect(finished.tasks.map(\.attempt) == [1, 2])
    }
}

/// Job ids the server answered 201 for.
final class Acknowledged: Sendable {
    private let state = Mutex<[String]>([])
    func append(_ id: String) { state.withLock { $0.append(id) } }
    var count: Int { state.withLock { $0.count } }
    var ids: [String] { state.withLock { $0 } }
}
