import AgentJobsCore
import AsyncHTTPClient
import Foundation
import NIOCore
import Testing

/// The README's conversing agent, run by a real `serve` process as users run it.
@Suite("An agent that reports progress, asks, waits for the answer and completes", .serialized)
struct ConversationAgentTests {
    @Test(
        "examples/agents/converse.sh through serve: progress, a question, the event, the answer",
        arguments: StoreKind.available)
    func converse(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind, start: Date())
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        try await env.store.createJobType(
            JobType(
                id: "converse", orgID: nil,
                executor: .command(root.appendingPathComponent("examples/agents/converse.sh").path),
                defaultConfig: .init(maxFollowUps: 2), createdAt: Date()))
        let client = HTTPClient.shared
        let node = try await ServeProcess(
            database: env.databaseURL, port: try freePort(), arguments: ["--log-level", "warning"],
            output: env.directory.appendingPathComponent("serve.log"))
        defer { node.sendTerminate() }
        try await node.waitUntilReady(client)
        let created = try await MultiNodeConversationTests.post(
            client, node, "/services/agent-jobs", token: env.writeA, body: jobBody(jobType: "converse"))
        let id = try #require(created.json["data"]["job_id"].string)
        // Follow the job on its stream while it runs.
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(node.port)/services/agent-jobs/\(id)/stream")
        request.headers.add(name: "Authorization", value: "Bearer \(env.readA)")
        let response = try await client.execute(request, timeout: .seconds(60))
        var body = response.body.makeAsyncIterator()
        var text = ""
        func read(until done: ([SSEMessage]) -> Bool) async throws -> [SSEMessage] {
            while !done(SSEMessage.parse(text)) {
                guard let chunk = try await body.next() else { break }
                text += String(buffer: chunk)
            }
            return SSEMessage.parse(text)
        }
        let asked = try await read { messages in
            messages.contains { $0.event == "task" && $0.data["status"].string == "COMPLETED" }
        }
        #expect(
            asked.first { $0.event == "progress" }?.data["message"].string == "asking the channel which report it wants"
        )
        let event = try await MultiNodeConversationTests.post(
            client, node, "/services/agent-jobs/\(id)/events", token: env.writeA,
            body: #"{"type": "answer", "data": {"choice": "weekly"}}"#)
        #expect(event.status == 201)
        let all = try await read { $0.last?.event == "job" && $0.last?.data["job_status"].string == "COMPLETED" }
        #expect(
            all.map(\.event) == ["job", "job", "task", "progress", "task", "event", "task", "progress", "task", "job"])
        #expect(all.last?.data["result"].string == "posted the weekly report")
        let job = try #require(try await env.store.job(id: id))
        #expect(job.tasks.map(\.kind) == [.initial, .followUp])
        #expect(
            job.tasks.map { $0.progress.map(\.message) } == [
                ["asking the channel which report it wants"], ["writing the weekly report"],
            ])
        #expect(job.tasks[1].eventIDs == [try #require(event.json["data"]["event_id"].string)])
        #expect(job.tasks[0].result == "asked: daily or weekly?")
        // After a restart, the stream resumes from storage after the entry the client last saw.
        await node.terminate()
        let restarted = try await ServeProcess(
            database: env.databaseURL, port: try freePort(), arguments: ["--log-level", "warning"],
            output: env.directory.appendingPathComponent("serve-restarted.log"))
        defer { restarted.sendTerminate() }
        try await restarted.waitUntilReady(client)
        var resume = HTTPClientRequest(url: "http://127.0.0.1:\(restarted.port)/services/agent-jobs/\(id)/stream")
        resume.headers.add(name: "Authorization", value: "Bearer \(env.readA)")
        resume.headers.add(name: "Last-Event-ID", value: String(all[4].id))
        let resumed = try await client.execute(resume, timeout: .seconds(30))
        let rest = SSEMessage.parse(String(buffer: try await resumed.body.collect(upTo: 1 << 22)))
        #expect(rest == Array(all[5...]))
    }
}
