import AgentJobsCore
import AsyncHTTPClient
import Foundation
import NIOCore
import Testing

@testable import AgentJobsEngine

#if canImport(Glibc)
import Glibc
#endif

/// Three `serve` nodes on one PostgreSQL database running real command agents: quick ones,
/// ones that start a grandchild and wait for it, flaky ones (fail, then succeed on a retry),
/// and long ones that start a grandchild and are canceled while running; one node is
/// SIGKILLed halfway (in the serialized multi-node suite). 1,000 jobs in CI; `AGENT_JOBS_MULTINODE_JOBS=5000` for the full figure.
extension MultiNodeTests {
    /// What a command agent is asked to do.
    enum AgentPlan: String, CaseIterable {
        case quick, grandchild, flaky, long
    }

    /// Live (non-zombie) processes whose command line is exactly `arguments`.
    static func liveProcesses(_ arguments: [String]) -> Int {
        let wanted = arguments.joined(separator: "\0") + "\0"
        return (ProcessTable.pids() ?? []).filter { pid in
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            return String(decoding: data, as: UTF8.self) == wanted && ProcessTable.entry(of: pid)?.isLive == true
        }.count
    }

    @Test(
        "3 nodes, command agents with grandchildren, cancels, one node SIGKILLed: nothing lost, run twice or left behind"
    )
    func threeNodesWithCommandAgents() async throws {
        let jobCount = Int(ProcessInfo.processInfo.environment["AGENT_JOBS_MULTINODE_JOBS"] ?? "") ?? 1000
        let env = try await TestEnvironment.make(.postgres, start: Date())
        let scripts = try Scripts(in: env.directory)
        let log = env.directory.appendingPathComponent("executions.log").path
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        // The long agents' grandchildren carry a marker argument, to be found afterwards.
        let marker = "8.0\(Int.random(in: 100...999))"
        let agent = try scripts.write(
            "agent",
            """
            doc=$(cat)
            attempt=$(printf '%s' "$doc" | sed 's/^{"attempt":\\([0-9]*\\).*/\\1/')
            task=$(printf '%s' "$doc" | sed 's/.*"task_id":"\\([^"]*\\)".*/\\1/')
            job=$(printf '%s' "$doc" | sed 's/.*"job_id":"\\([^"]*\\)".*/\\1/')
            mode=$(printf '%s' "$doc" | sed 's/.*"mode":"\\([a-z]*\\)".*/\\1/')
            echo "$task $job $attempt" >> '\(log)'
            case "$mode" in
              quick) echo done ;;
              grandchild) sleep 0.1 & wait; echo '{"status": "completed", "result": "waited"}' ;;
              flaky) if [ "$attempt" -le 1 ]; then echo 'flaky failure' >&2; exit 1; fi; echo done ;;
              long) sleep \(marker) & wait; echo done ;;
            esac
            """)
        try await env.commandType("agent", agent)
        let client = HTTPClient.shared
        // A 6 s lease: renewals every 2 s, trusted for 3 s. With 3 s, a renewal round trip of
        // half a second (three nodes, PostgreSQL and 48 shell agents on two shared cores) was
        // enough for a survivor's watchdog to stop a long agent, which then failed `worker lost`.
        let arguments = ["--concurrency", "16", "--lease-seconds", "6", "--log-level", "warning"]
        var nodes: [ServeProcess] = []
        for index in 0..<3 {
            nodes.append(
                try await ServeProcess(
                    database: env.databaseURL, port: try freePort(), arguments: arguments,
                    output: env.directory.appendingPathComponent("node\(index).log")))
        }
        defer { nodes.forEach { $0.sendTerminate() } }
        for node in nodes { try await node.waitUntilReady(client) }

        var plans: [AgentPlan] = (0..<jobCount).map { index in
            switch index % 20 {
            case 0...9: .quick
            case 10...13: .grandchild
            case 14...16: .flaky
            default: .long
            }
        }
        plans.shuffle()
        let plansByIndex = plans
        let ids = try await Self.createJobs(
            count: jobCount, through: nodes, token: env.writeA, client: client,
            body: { index in
                jobBody(
                    jobType: "agent", code: "C\(index % 5)",
                    extra:
                        #""config": {"max_task_retries": 2, "task_retry_interval": 0}, "params": {"mode": "\#(plansByIndex[index].rawValue)"}"#
                )
            })
        let longIDs = zip(ids, plans).filter { $0.1 == .long }.map(\.0)
        let cancelTarget = max(10, jobCount / 100)
        let canceled = try await Self.cancelWhileRunning(
            longIDs, count: cancelTarget, through: [nodes[0], nodes[2]], token: env.writeA, client: client,
            store: env.store)
        #expect(canceled.count == cancelTarget, "long jobs were canceled while running")

        func terminalCount() async throws -> Int { try await Self.terminalCount(env.store) }
        for _ in 0..<4800 where try await terminalCount() < jobCount / 2 {
            try await Task.sleep(for: .milliseconds(25))
        }
        await nodes[1].kill9()
        var finished = 0
        for _ in 0..<9600 {
            finished = try await terminalCount()
            if finished == jobCount { break }
            try await Task.sleep(for: .milliseconds(25))
        }
        #expect(finished == jobCount, "every job is terminal")
        let survivorsAlive = nodes[0].isRunning && nodes[2].isRunning

        let jobs = try await Self.allJobs(env.store)
        #expect(Set(jobs.map(\.id)) == Set(ids), "no job lost")
        var duplicatedAttempts = 0
        for job in jobs {
            let attempts = job.tasks.map(\.attempt)
            duplicatedAttempts += attempts.count - Set(attempts).count
            if canceled.contains(job.id) {
                #expect(job.status == .canceled)
            } else {
                #expect(job.status == .completed, "\(job.id): \(job.status) \(job.result ?? "")")
            }
        }
        let lines = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n")
        let taskRuns = lines.map { $0.split(separator: " ").first.map(String.init) ?? "" }
        let stepRuns = lines.map { $0.split(separator: " ").dropFirst().joined(separator: " ") }
        let duplicated = (taskRuns.count - Set(taskRuns).count) + (stepRuns.count - Set(stepRuns).count)
        #expect(duplicated == 0, "no task and no (job, attempt) ran twice")
        #expect(duplicatedAttempts == 0)
        #expect(Set(taskRuns).isSubset(of: Set(jobs.flatMap { $0.tasks.map(\.id) })))
        // Every long agent's grandchild ended with its task (the SIGKILLed node's own
        // programs end by themselves within seconds; wait for them, bounded).
        var left = Self.liveProcesses(["sleep", marker])
        for _ in 0..<400 where left > 0 {
            try await Task.sleep(for: .milliseconds(25))
            left = Self.liveProcesses(["sleep", marker])
        }
        #expect(left == 0, "no process of a canceled or finished task is left")
        #expect(survivorsAlive, "the surviving nodes did not crash")
        // How often a survivor stopped a task of its own for want of a renewed lease (the
        // watchdog), or found its lease gone (a cancel does that too).
        let survivorLogs = [0, 2].map { index in
            (try? String(contentsOf: env.directory.appendingPathComponent("node\(index).log"), encoding: .utf8)) ?? ""
        }
        func occurrences(_ text: String) -> Int {
            survivorLogs.map { $0.components(separatedBy: text).count - 1 }.reduce(0, +)
        }
        print(
            "multi-node command agents: watchdog_stops=\(occurrences("lease could not be renewed in time")) "
                + "leases_lost=\(occurrences("lease lost; interrupting task")) nodes=3 jobs=\(jobCount) launches=\(lines.count) canceled=\(canceled.count) "
                + "crashes=\(survivorsAlive ? 0 : 1) lost=\(jobCount - jobs.filter(\.status.isTerminal).count) "
                + "duplicate_attempts=\(duplicated + duplicatedAttempts) processes_left=\(left)")
    }
}
