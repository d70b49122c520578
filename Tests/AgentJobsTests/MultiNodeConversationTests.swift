import AgentJobsCore
import AsyncHTTPClient
import Foundation
import NIOCore
import Synchronization
import Testing

@Suite(
    "Events and streams across PostgreSQL nodes", .serialized,
    .enabled(if: StoreKind.postgresURL != nil, "needs AGENT_JOBS_TEST_POSTGRES_URL"))
struct MultiNodeConversationTests {
    static func post(
        _ client: HTTPClient, _ node: ServeProcess, _ path: String, token: String, body: String
    ) async throws -> (status: Int, json: JSONTree) {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(node.port)\(path)")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: body))
        let response = try await client.execute(request, timeout: .seconds(30))
        return (Int(response.status.code), JSONTree(data: try await response.body.collect(upTo: 1 << 20)))
    }

    @Test("3 nodes, 300 jobs waiting for events, one node SIGKILLed: every event delivered to one task at most once")
    func exactlyOnceDelivery() async throws {
        let env = try await TestEnvironment.make(.postgres, start: Date())
        let log = env.directory.appendingPathComponent("executions.log").path
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let client = HTTPClient.shared
        var nodes: [ServeProcess] = []
        for index in 0..<3 {
            nodes.append(
                try await ServeProcess(
                    database: env.databaseURL, port: try freePort(),
                    arguments: ["--concurrency", "32", "--lease-seconds", "3", "--log-level", "warning"],
                    output: env.directory.appendingPathComponent("node\(index).log"),
                    environment: ["AGENT_JOBS_DEMO_EXECUTION_LOG": log]))
        }
        defer { nodes.forEach { $0.sendTerminate() } }
        for node in nodes { try await node.waitUntilReady(client) }
        // Each job's agent asks and waits (up to 3 s) for an event, then completes with it.
        let jobCount = 300
        let ids = try await MultiNodeTests.createJobs(
            count: jobCount, through: nodes, token: env.writeA, client: client,
            body: { _ in
                jobBody(
                    extra:
                        #""config": {"max_follow_ups": 5, "max_task_retries": 5, "task_retry_interval": 0}, "params": {"demo": {"wait_for_event_minutes": 0.05, "sleep_ms": 150}}"#
                )
            })
        // Two events per job, through the nodes in turn; node 0 is SIGKILLed halfway.
        var events: [String: String] = [:]
        try await withThrowingTaskGroup(of: (String, String)?.self) { group in
            var killed = false
            for (index, id) in ids.enumerated() {
                if index == jobCount / 2 {
                    while let result = try await group.next() {
                        if let (event, job) = result { events[event] = job }
                    }
                    await nodes[0].kill9()
                    killed = true
                }
                for round in 0..<2 {
                    let node = killed ? nodes[1 + (index + round) % 2] : nodes[(index + round) % 3]
                    group.addTask {
                        let reply = try await Self.post(
                            client, node, "/services/agent-jobs/\(id)/events", token: env.writeA,
                            body: #"{"type": "reply\#(round)", "data": {"round": \#(round)}}"#)
                        #expect(reply.status == 201 || reply.status == 409, "\(reply.status) \(reply.json)")
                        guard reply.status == 201, let event = reply.json["data"]["event_id"].string else { return nil }
                        return (event, id)
                    }
                }
            }
            while let result = try await group.next() {
                if let (event, job) = result { events[event] = job }
            }
        }
        var finished = 0
        for _ in 0..<2400 {
            finished = try await MultiNodeTests.terminalCount(env.store)
            if finished == jobCount { break }
            try await Task.sleep(for: .milliseconds(25))
        }
        #expect(finished == jobCount, "every job is terminal")
        #expect(events.count >= jobCount, "at least one event per job was recorded")
        let lines = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n")
        var runs: [String: Int] = [:]
        for line in lines where line.hasPrefix("event ") {
            runs[String(line.split(separator: " ")[1]), default: 0] += 1
        }
        var undelivered = 0
        var lostWithWorker = 0
        for id in ids {
            let job = try #require(try await env.store.job(id: id))
            let tasks = Dictionary(uniqueKeysWithValues: job.tasks.map { ($0.id, $0) })
            let linked = job.tasks.flatMap(\.eventIDs)
            #expect(linked.count == Set(linked).count, "\(id): an event linked to two tasks")
            for event in job.events {
                #expect(events[event.id] == id, "\(event.id) was not recorded by the test for \(id)")
                guard let taskID = event.deliveredToTaskID else {
                    // Only an event recorded as the job's last task ran may stay undelivered.
                    #expect(job.status.isTerminal)
                    undelivered += 1
                    continue
                }
                let task = try #require(tasks[taskID], "\(event.id) delivered to an unknown task")
                #expect(task.startedAt.map { $0 >= event.createdAt } ?? false, "delivered to an earlier task")
                if task.error == JobStateMachine.workerLost {
                    #expect((runs[event.id] ?? 0) <= 1, "\(event.id) ran twice")
                    lostWithWorker += 1
                } else {
                    #expect(runs[event.id] == 1, "\(event.id) ran \(runs[event.id] ?? 0) times")
                }
            }
        }
        let stored = try await ids.asyncFlatMap { try await env.store.job(id: $0)?.events.map(\.id) ?? [] }
        #expect(Set(stored) == Set(events.keys), "every recorded event is stored, none extra")
        #expect(runs.values.allSatisfy { $0 == 1 }, "no event reached an agent twice")
        print(
            "events: \(events.count), undelivered (job ended first): \(undelivered), with a lost worker: \(lostWithWorker)"
        )
    }

    @Test("a stream held on one node gets the entries written through another")
    func crossNodeStream() async throws {
        let env = try await TestEnvironment.make(.postgres, start: Date())
        let client = HTTPClient.shared
        var nodes: [ServeProcess] = []
        for (index, role) in ["api", "all"].enumerated() {
            nodes.append(
                try await ServeProcess(
                    database: env.databaseURL, port: try freePort(),
                    arguments: ["--role", role, "--log-level", "warning"],
                    output: env.directory.appendingPathComponent("node\(index).log")))
        }
        defer { nodes.forEach { $0.sendTerminate() } }
        for node in nodes { try await node.waitUntilReady(client) }
        let id = try #require(
            try await Self.post(
                client, nodes[1], "/services/agent-jobs", token: env.writeA,
                body: jobBody(
                    extra: #""config": {"max_follow_ups": 5}, "params": {"demo": {"wait_for_event_minutes": 60}}"#)
            ).json["data"]["job_id"].string)
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(nodes[0].port)/services/agent-jobs/\(id)/stream")
        request.headers.add(name: "Authorization", value: "Bearer \(env.readA)")
        let response = try await client.execute(request, timeout: .seconds(60))
        #expect(response.status == .ok)
        var text = ""
        var body = response.body.makeAsyncIterator()
        /// Reads the stream until `done` holds for the messages so far.
        func read(until done: ([SSEMessage]) -> Bool) async throws -> [SSEMessage] {
            while !done(SSEMessage.parse(text)) {
                guard let chunk = try await body.next() else { break }
                text += String(buffer: chunk)
            }
            return SSEMessage.parse(text)
        }
        // The first task asks and waits: its end shows on the stream held by the other node.
        let asked = try await read { $0.filter { $0.event == "task" }.count >= 2 }
        #expect(asked.map(\.event).prefix(4) == ["job", "job", "task", "task"])
        // An event recorded through node 1 reaches the stream on node 0, then its follow-up.
        let posted = ContinuousClock.now
        let reply = try await Self.post(
            client, nodes[1], "/services/agent-jobs/\(id)/events", token: env.writeA, body: #"{"type": "answer"}"#)
        #expect(reply.status == 201)
        let seen = try await read { $0.contains { $0.event == "event" } }
        let lag = ContinuousClock.now - posted
        #expect(seen.last?.data["event_id"].string == reply.json["data"]["event_id"].string)
        let all = try await read { $0.last?.event == "job" && $0.last?.data["job_status"].string == "COMPLETED" }
        #expect(all.map(\.event) == ["job", "job", "task", "task", "event", "task", "task", "job"])
        #expect(try await body.next() == nil, "the stream ends after the terminal job entry")
        print("cross-node stream: event visible \(lag) after the POST began")
    }
}

extension Sequence {
    func asyncFlatMap<T>(_ transform: (Element) async throws -> [T]) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results += try await transform(element) }
        return results
    }
}
