import AgentJobsCore
import AsyncHTTPClient
import Foundation
import NIOCore
import Testing

extension MultiNodeTests {
    @Test("3 nodes, a schedule firing every second, one node SIGKILLed: exactly one job per occurrence")
    func scheduleAcrossNodes() async throws {
        let env = try await TestEnvironment.make(.postgres, start: Date())
        let client = HTTPClient.shared
        var nodes: [ServeProcess] = []
        for index in 0..<3 {
            nodes.append(
                try await ServeProcess(
                    database: env.databaseURL, port: try freePort(),
                    arguments: ["--lease-seconds", "3", "--log-level", "warning"],
                    output: env.directory.appendingPathComponent("schedule-node\(index).log")))
        }
        defer { nodes.forEach { $0.sendTerminate() } }
        for node in nodes { try await node.waitUntilReady(client) }

        let body = ScheduleAPITests.body(cron: "* * * * * *")
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(nodes[0].port)/services/agent-schedules")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(env.writeA)")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: body))
        let response = try await client.execute(request, timeout: .seconds(10))
        #expect(response.status.code == 201)
        let created = try JSONSerialization.jsonObject(
            with: Data(buffer: try await response.body.collect(upTo: 1 << 20)))
        let id = try #require(((created as? [String: Any])?["data"] as? [String: Any])?["schedule_id"] as? String)

        func runs() async throws -> Int { try await env.store.schedule(id: id)?.runs ?? 0 }
        for _ in 0..<400 where try await runs() < 4 { try await Task.sleep(for: .milliseconds(25)) }
        let atKill = try await runs()
        await nodes[1].kill9()
        for _ in 0..<800 where try await runs() < atKill + 6 { try await Task.sleep(for: .milliseconds(25)) }
        var paused = try #require(try await env.store.schedule(id: id))
        paused.paused = true
        paused.nextRunAt = nil
        _ = try await env.store.updateSchedule(paused)

        let schedule = try #require(try await env.store.schedule(id: id))
        let jobs = try await env.store.listJobs(
            JobQuery(orgID: TestEnvironment.orgA, scheduleID: id, limit: 200, sort: [SortKey(.scheduledAt, .asc)]))
        let seconds = jobs.jobs.map { Timestamp.millis($0.scheduledAt) / 1000 }
        #expect(schedule.runs >= atKill + 6, "it kept firing after the kill")
        #expect(jobs.total == schedule.runs, "runs counts the jobs")
        #expect(Set(seconds).count == seconds.count, "no occurrence created two jobs")
        if let first = seconds.first, let last = seconds.last {
            #expect(
                Int(last - first) + 1 == seconds.count + schedule.skipped,
                "every occurrence between the first and the last made a job or was counted skipped")
        }
        print("multi-node schedule: runs=\(schedule.runs) skipped=\(schedule.skipped) runs_at_kill=\(atKill)")
    }
}
