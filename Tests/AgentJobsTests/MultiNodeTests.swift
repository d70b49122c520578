import AgentJobsCore
import AsyncHTTPClient
import Foundation
import NIOCore
import Synchronization
import Testing

@Suite(
    "Many nodes on PostgreSQL", .serialized,
    .enabled(if: StoreKind.postgresURL != nil, "needs AGENT_JOBS_TEST_POSTGRES_URL"))
struct MultiNodeTests {
    /// What a test job is meant to do.
    enum Plan: CaseIterable {
        case quick, scheduledAhead, failingThenOK, longToCancel
    }

    @Test("3 nodes, 5,000 jobs, one node SIGKILLed halfway: all terminal, no attempt twice, none lost")
    func threeNodes() async throws {
        let env = try await TestEnvironment.make(.postgres, start: Date())
        let log = env.directory.appendingPathComponent("executions.log").path
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let client = HTTPClient.shared
        let arguments = ["--concurrency", "16", "--lease-seconds", "3", "--log-level", "warning"]
        var nodes: [ServeProcess] = []
        for index in 0..<3 {
            nodes.append(
                try await ServeProcess(
                    database: env.databaseURL, port: try freePort(), arguments: arguments,
                    output: env.directory.appendingPathComponent("node\(index).log"),
                    environment: ["AGENT_JOBS_DEMO_EXECUTION_LOG": log]))
        }
        defer { nodes.forEach { $0.sendTerminate() } }
        for node in nodes { try await node.waitUntilReady(client) }

        let jobCount = 5_000
        var plans: [Plan] = []
        var random = SystemRandomNumberGenerator()
        for index in 0..<jobCount {
            switch index % 20 {
            case 0...11: plans.append(.quick)
            case 12...14: plans.append(.scheduledAhead)
            case 15...17: plans.append(.failingThenOK)
            default: plans.append(.longToCancel)
            }
        }
        plans.shuffle(using: &random)
        let now = Date()
        func body(_ index: Int, _ plan: Plan) -> String {
            switch plan {
            case .quick:
                return jobBody(
                    code: "C\(index % 7)",
                    extra:
                        #""config": {"max_task_retries": 1, "task_retry_interval": 0}, "params": {"demo": {"sleep_ms": \#(Int.random(in: 20...200))}}"#
                )
            case .scheduledAhead:
                let at = Timestamp.format(now.addingTimeInterval(Double.random(in: 2...8)))
                return jobBody(
                    code: "S",
                    extra:
                        #""scheduled_at": "\#(at)", "config": {"max_task_retries": 1, "task_retry_interval": 0}, "params": {"demo": {"sleep_ms": 50}}"#
                )
            case .failingThenOK:
                return jobBody(
                    code: "F",
                    extra:
                        #""config": {"max_task_retries": 3, "task_retry_interval": 0.005}, "params": {"demo": {"fail_attempts": \#(Int.random(in: 1...2)), "sleep_ms": 30}}"#
                )
            case .longToCancel:
                return jobBody(
                    code: "L",
                    extra:
                        #""config": {"max_task_retries": 3, "task_retry_interval": 0}, "params": {"demo": {"sleep_ms": 4000}}"#
                )
            }
        }

        // Create through all three nodes, 32 requests in flight.
        let chosen = plans
        let bodies = (0..<jobCount).map { body($0, chosen[$0]) }
        let ids = try await Self.createJobs(
            count: jobCount, through: nodes, token: env.writeA, client: client, body: { bodies[$0] })
        let longIDs = zip(ids, plans).filter { $0.1 == .longToCancel }.map(\.0)

        // Cancel long jobs while they run, through the nodes that stay up.
        let canceled = try await Self.cancelWhileRunning(
            longIDs, count: 40, through: [nodes[0], nodes[2]], token: env.writeA, client: client, store: env.store)
        #expect(canceled.count == 40, "40 long jobs were canceled while running")

        // Kill one node halfway.
        func terminalCount() async throws -> Int { try await Self.terminalCount(env.store) }
        for _ in 0..<2400 where try await terminalCount() < jobCount / 2 {
            try await Task.sleep(for: .milliseconds(25))
        }
        let atKill = try await terminalCount()
        let runningOnKilled = try await env.store.listJobs(
            JobQuery(orgID: TestEnvironment.orgA, statuses: [.running], limit: 200)
        ).total
        await nodes[1].kill9()

        var finished = 0
        for _ in 0..<4800 {
            finished = try await terminalCount()
            if finished == jobCount { break }
            try await Task.sleep(for: .milliseconds(25))
        }
        #expect(finished == jobCount, "every job is terminal")

        // Verify against the database and the executor's own log.
        let jobs = try await Self.allJobs(env.store)
        #expect(Set(jobs.map(\.id)) == Set(ids), "no job lost")
        let planByID = Dictionary(uniqueKeysWithValues: zip(ids, plans))
        var duplicatedAttempts = 0
        var overlapping = 0
        for job in jobs {
            let attempts = job.tasks.map(\.attempt)
            duplicatedAttempts += attempts.count - Set(attempts).count
            #expect(attempts == Array(1...max(1, attempts.count)) || attempts.isEmpty, "\(job.id): \(attempts)")
            for (earlier, later) in zip(job.tasks, job.tasks.dropFirst()) {
                if let end = earlier.finishedAt, let start = later.startedAt, start < end { overlapping += 1 }
            }
            if canceled.contains(job.id) {
                #expect(job.status == .canceled)
                #expect(job.tasks.last?.status == .canceled || job.tasks.last?.status == .failed)
            } else {
                #expect(
                    job.status == .completed,
                    "\(job.id) (\(String(describing: planByID[job.id]))): \(job.status) \(job.result ?? "")")
            }
        }
        let lines = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n")
        let taskRuns = lines.map { $0.split(separator: " ").first.map(String.init) ?? "" }
        let stepRuns = lines.map { $0.split(separator: " ").dropFirst().joined(separator: " ") }
        let duplicatedRuns = taskRuns.count - Set(taskRuns).count
        let duplicatedSteps = stepRuns.count - Set(stepRuns).count
        let recorded = Set(jobs.flatMap { $0.tasks.map(\.id) })
        #expect(duplicatedRuns == 0, "no task_id ran twice")
        #expect(duplicatedSteps == 0, "no (job, attempt) ran twice")
        #expect(Set(taskRuns).isSubset(of: recorded), "every execution has a task record")
        #expect(duplicatedAttempts == 0)
        #expect(overlapping == 0, "no step of a job ran while another did")
        let lost = ids.count - jobs.filter(\.status.isTerminal).count
        let workerLost = jobs.flatMap(\.tasks).filter { $0.error == "worker lost" }.count
        print(
            "multi-node outcome: nodes=3 jobs=\(jobCount) terminal_at_kill=\(atKill) running_at_kill=\(runningOnKilled) "
                + "completed=\(jobs.filter { $0.status == .completed }.count) canceled=\(jobs.filter { $0.status == .canceled }.count) "
                + "failed=\(jobs.filter { $0.status == .failed }.count) tasks=\(recorded.count) executions=\(taskRuns.count) "
                + "worker_lost_tasks=\(workerLost) duplicated=\(duplicatedRuns + duplicatedSteps + duplicatedAttempts) lost=\(lost)"
        )
    }
}

extension MultiNodeTests {
    /// Creates `count` jobs through the nodes in turn, 32 requests in flight; their ids in order.
    static func createJobs(
        count: Int, through nodes: [ServeProcess], token: String, client: HTTPClient,
        body: @escaping @Sendable (Int) -> String
    ) async throws -> [String] {
        try await withThrowingTaskGroup(of: (Int, String).self) { group in
            var results = [String](repeating: "", count: count)
            var next = 0
            func add(_ index: Int) {
                let node = nodes[index % nodes.count]
                let text = body(index)
                group.addTask {
                    var request = HTTPClientRequest(url: "http://127.0.0.1:\(node.port)/services/agent-jobs")
                    request.method = .POST
                    request.headers.add(name: "Authorization", value: "Bearer \(token)")
                    request.headers.add(name: "Content-Type", value: "application/json")
                    request.body = .bytes(ByteBuffer(string: text))
                    let response = try await client.execute(request, timeout: .seconds(30))
                    let reply = JSONTree(data: try await response.body.collect(upTo: 1 << 20))
                    guard response.status == .created, let id = reply["data"]["job_id"].string else {
                        throw TimedOut(description: "create failed: \(response.status) \(reply)")
                    }
                    return (index, id)
                }
            }
            while next < min(32, count) {
                add(next)
                next += 1
            }
            while let (index, id) = try await group.next() {
                results[index] = id
                if next < count {
                    add(next)
                    next += 1
                }
            }
            return results
        }
    }

    /// Jobs that are `COMPLETED`, `FAILED` or `CANCELED`.
    static func terminalCount(_ store: any EngineStore) async throws -> Int {
        let counts = try await store.jobCountsByStatus()
        return (counts[.completed] ?? 0) + (counts[.failed] ?? 0) + (counts[.canceled] ?? 0)
    }

    /// Every job of org A, oldest first, read page by page.
    static func allJobs(_ store: any EngineStore) async throws -> [Job] {
        var jobs: [Job] = []
        var offset = 0
        while true {
            let page = try await store.listJobs(
                JobQuery(orgID: TestEnvironment.orgA, limit: 200, offset: offset, sort: [SortKey(.createdAt, .asc)]))
            jobs += page.jobs
            offset += 200
            if page.jobs.count < 200 { return jobs }
        }
    }

    /// Cancels up to `count` of `ids` while their task runs, through `nodes` in turn.
    static func cancelWhileRunning(
        _ ids: [String], count: Int, through nodes: [ServeProcess], token: String, client: HTTPClient,
        store: any EngineStore
    ) async throws -> Set<String> {
        var canceled = Set<String>()
        for _ in 0..<400 where canceled.count < count {
            for id in ids where !canceled.contains(id) {
                guard let job = try await store.job(id: id), job.status == .running,
                    job.tasks.last?.status == .running
                else { continue }
                var request = HTTPClientRequest(
                    url: "http://127.0.0.1:\(nodes[canceled.count % nodes.count].port)/services/agent-jobs/\(id)")
                request.method = .DELETE
                request.headers.add(name: "Authorization", value: "Bearer \(token)")
                let response = try await client.execute(request, timeout: .seconds(10))
                _ = try await response.body.collect(upTo: 1 << 16)
                if response.status == .ok { canceled.insert(id) }
                if canceled.count >= count { break }
            }
            if canceled.count < count { try await Task.sleep(for: .milliseconds(50)) }
        }
        return canceled
    }
}
