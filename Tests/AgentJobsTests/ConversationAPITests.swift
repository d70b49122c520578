import AgentJobsCore
import Foundation
import HTTPTypes
import Testing

@testable import AgentJobsAPI

/// One Server-Sent Event as a test reads it.
struct SSEMessage: Sendable, Equatable {
    var id: Int64
    var event: String
    var data: JSONTree

    static func == (lhs: SSEMessage, rhs: SSEMessage) -> Bool { lhs.id == rhs.id && lhs.event == rhs.event }

    /// The messages of a `text/event-stream` body (comments skipped).
    static func parse(_ text: String) -> [SSEMessage] {
        text.components(separatedBy: "\n\n").compactMap { block in
            var id: Int64?
            var event: String?
            var data: String?
            for line in block.split(separator: "\n") {
                if line.hasPrefix("id: ") { id = Int64(line.dropFirst(4)) }
                if line.hasPrefix("event: ") { event = String(line.dropFirst(7)) }
                if line.hasPrefix("data: ") { data = String(line.dropFirst(6)) }
            }
            guard let id, let event, let data else { return nil }
            return SSEMessage(id: id, event: event, data: JSONTree(data: .init(string: data)))
        }
    }
}

@Suite("Events, progress and the stream over HTTP")
struct ConversationAPITests {
    let steps = TransitionConformanceTests()

    func postEvent(
        _ api: APIClient, _ jobID: String, token: String,
        body: String = #"{"type": "message", "data": {"text": "yes"}}"#,
        headers: HTTPFields = [:]
    ) async throws -> Reply {
        try await api.request(.post, "/services/agent-jobs/\(jobID)/events", token: token, body: body, headers: headers)
    }

    @Test("POST …/events: 201 with the event, every refusal a 4xx naming the problem", arguments: StoreKind.available)
    func events(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        try await env.withClient { api in
            let id = try #require(try await api.create(jobBody(), token: env.writeA).json["data"]["job_id"].string)
            let created = try await postEvent(api, id, token: env.writeA)
            #expect(created.status == 201)
            let event = created.json["data"]
            #expect(event["job_id"].string == id && event["type"].string == "message")
            #expect(event["data"]["text"].string == "yes" && event["delivered_to_task_id"].isNull)
            #expect(event["event_id"].string?.hasPrefix("evt_") == true && event["created_at"].string != nil)
            let bare = try await postEvent(api, id, token: env.writeA, body: #"{"type": "a.b:c-d_E9"}"#)
            #expect(bare.status == 201 && bare.json["data"]["data"].isNull)
            for (body, word) in [
                (#"{"type": "has space"}"#, "type"), (#"{"type": ""}"#, "type"),
                (#"{"type": "\#(String(repeating: "x", count: 65))"}"#, "type"), (#"{"data": 1}"#, "type"),
                ("[1]", "object"), ("{", "JSON"),
            ] {
                let reply = try await postEvent(api, id, token: env.writeA, body: body)
                #expect(reply.status == 400, "\(body)")
                #expect(reply.errorMessage.contains(word), "\(body): \(reply.errorMessage)")
            }
            #expect(try await postEvent(api, "job_missing", token: env.writeA).status == 404)
            #expect(try await postEvent(api, id, token: env.writeB).status == 403)
            #expect(try await postEvent(api, id, token: env.readA).status == 403)
            #expect(try await postEvent(api, id, token: env.revokedA).status == 401)
            let big = #"{"type": "big", "data": ""# + String(repeating: "x", count: 64 * 1024) + #""}"#
            let tooLarge = try await postEvent(api, id, token: env.writeA, body: big)
            #expect(tooLarge.status == 413 && tooLarge.errorMessage.contains("65536"))
            let text = try await api.request(
                .post, "/services/agent-jobs/\(id)/events", token: env.writeA, body: "type=x", contentType: "text/plain"
            )
            #expect(text.status == 415)
            // Idempotency-Key: the same body replays the first event (200), another body is 409.
            let keyed = try await postEvent(api, id, token: env.writeA, headers: [.init("Idempotency-Key")!: "k1"])
            let again = try await postEvent(api, id, token: env.writeA, headers: [.init("Idempotency-Key")!: "k1"])
            #expect(keyed.status == 201 && again.status == 200)
            #expect(again.json["data"]["event_id"].string == keyed.json["data"]["event_id"].string)
            let changed = try await postEvent(
                api, id, token: env.writeA, body: #"{"type": "other"}"#, headers: [.init("Idempotency-Key")!: "k1"])
            #expect(changed.status == 409)
            // GET shows the events; the list does not.
            let job = try await api.request(.get, "/services/agent-jobs/\(id)", token: env.readA).json["data"]
            #expect(job["events"].array.count == 3)
            #expect(try await api.list(token: env.readA).json["data"][0]["events"].exists == false)
            // Ended: 409.
            _ = try await api.request(.delete, "/services/agent-jobs/\(id)", token: env.writeA)
            let late = try await postEvent(api, id, token: env.writeA)
            #expect(late.status == 409 && late.errorMessage.contains("CANCELED"))
        }
    }

    @Test(
        "POST …/progress: 202 with the task's token while it runs; 401 and 409 otherwise",
        arguments: StoreKind.available)
    func progress(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        try await env.withClient { api in
            let id = try #require(try await api.create(jobBody(), token: env.writeA).json["data"]["job_id"].string)
            env.clock.advance(seconds: 1)
            let claimed = try await steps.claimOne(env)
            let token = try #require(claimed.progressToken)
            let path = "/services/agent-jobs/\(id)/tasks/\(claimed.task.id)/progress"
            let accepted = try await api.request(
                .post, path, token: token, body: #"{"message": "drafting", "data": {"percent": 40}}"#)
            #expect(accepted.status == 202)
            #expect(accepted.json["data"]["message"].string == "drafting")
            #expect(accepted.json["data"]["data"]["percent"].int == 40)
            #expect(accepted.json["data"]["task_id"].string == claimed.task.id)
            for bad in [env.writeA, "ajp_" + String(repeating: "0", count: 64), "nonsense"] {
                let refused = try await api.request(.post, path, token: bad, body: #"{"message": "x"}"#)
                #expect(refused.status == 401 && refused.headers[.wwwAuthenticate] != nil)
            }
            #expect(try await api.request(.post, path, token: nil, body: "{}").status == 401)
            let otherTask = "/services/agent-jobs/\(id)/tasks/task_other/progress"
            #expect(try await api.request(.post, otherTask, token: token, body: "{}").status == 401)
            let big = #"{"message": "x", "data": ""# + String(repeating: "x", count: 16 * 1024) + #""}"#
            #expect(try await api.request(.post, path, token: token, body: big).status == 413)
            #expect(try await api.request(.post, path, token: token, body: #"{"message": 5}"#).status == 400)
            let long = try await api.request(
                .post, path, token: token, body: #"{"message": "\#(String(repeating: "m", count: 4097))"}"#)
            #expect(long.status == 400 && long.errorMessage.contains("message"))
            let job = try await api.request(.get, "/services/agent-jobs/\(id)", token: env.readA).json["data"]
            #expect(job["tasks"][0]["progress"].array.map { $0["message"].string } == ["drafting"])
            #expect(job["tasks"][0]["event_ids"].array.isEmpty && job["tasks"][0]["event_ids"].exists)
            // The token is never shown by the API.
            let text = try await api.request(.get, "/services/agent-jobs/\(id)", token: env.readA).text
            #expect(!text.contains(token))
            _ = try await steps.finish(env, claimed, .completed(result: "done"))
            let late = try await api.request(.post, path, token: token, body: #"{"message": "late"}"#)
            #expect(late.status == 409 && late.errorMessage.contains("COMPLETED"))
        }
    }

    @Test(
        "GET …/stream: the history in order, resumable with Last-Event-ID, ending after the terminal job entry",
        arguments: StoreKind.available)
    func stream(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        try await env.withClient { api in
            let id = try #require(try await api.create(jobBody(), token: env.writeA).json["data"]["job_id"].string)
            let stream = "/services/agent-jobs/\(id)/stream"
            env.clock.advance(seconds: 1)
            let claimed = try await steps.claimOne(env)
            _ = try await api.request(
                .post, "/services/agent-jobs/\(id)/tasks/\(claimed.task.id)/progress",
                token: claimed.progressToken, body: #"{"message": "working"}"#)
            _ = try await postEvent(api, id, token: env.writeA)
            // The stream opened now follows the job until it ends, whenever the end comes.
            async let followed = api.request(.get, stream, token: env.readA)
            env.clock.advance(seconds: 1)
            _ = try await steps.finish(env, claimed, .completed(result: "done"))
            let reply = try await followed
            #expect(reply.status == 200)
            #expect(reply.headers[.contentType]?.hasPrefix("text/event-stream") == true)
            let messages = SSEMessage.parse(reply.text)
            #expect(messages.map(\.event) == ["job", "job", "task", "progress", "event", "task", "job"])
            #expect(
                messages.map { $0.data["job_status"].string ?? $0.data["status"].string ?? "-" }
                    == ["WAITING", "RUNNING", "RUNNING", "-", "-", "COMPLETED", "COMPLETED"])
            #expect(messages.map(\.id) == messages.map(\.id).sorted())
            #expect(messages[1].data["tasks"].array.isEmpty == false)
            #expect(messages[1].data["result"].isNull && messages.last?.data["result"].string == "done")
            // Resume after each entry: the rest, nothing repeated.
            for (index, message) in messages.enumerated() {
                let byHeader = try await api.request(
                    .get, stream, token: env.readA, headers: [.init("Last-Event-ID")!: String(message.id)])
                #expect(SSEMessage.parse(byHeader.text) == Array(messages[(index + 1)...]))
                let byQuery = try await api.request(.get, "\(stream)?last_event_id=\(message.id)", token: env.readA)
                #expect(SSEMessage.parse(byQuery.text) == Array(messages[(index + 1)...]))
            }
            // ?timeout= ends a stream whose job goes on; the next one resumes after it.
            let later = try #require(
                try await api.create(jobBody(extra: #""scheduled_at": "2030-01-01T00:00:00Z""#), token: env.writeA)
                    .json["data"]["job_id"].string)
            let bounded = try await api.request(
                .get, "/services/agent-jobs/\(later)/stream?timeout=1", token: env.readA)
            #expect(bounded.status == 200 && SSEMessage.parse(bounded.text).map(\.event) == ["job"])
            for bad in ["0", "86401", "x"] {
                let reply = try await api.request(
                    .get, "/services/agent-jobs/\(later)/stream?timeout=\(bad)", token: env.readA)
                #expect(reply.status == 400 && reply.errorMessage.contains("timeout"), "\(bad)")
            }
            for bad in ["-1", "x", "1.5", "99999999999999999999"] {
                let reply = try await api.request(.get, "\(stream)?last_event_id=\(bad)", token: env.readA)
                #expect(reply.status == 400 && reply.errorMessage.contains("last_event_id"), "\(bad)")
            }
            let badHeader = try await api.request(
                .get, stream, token: env.readA, headers: [.init("Last-Event-ID")!: "abc"])
            #expect(badHeader.status == 400 && badHeader.errorMessage.contains("Last-Event-ID"))
            let emptyHeader = try await api.request(
                .get, "\(stream)?last_event_id=1", token: env.readA, headers: [.init("Last-Event-ID")!: ""])
            #expect(emptyHeader.status == 400 && emptyHeader.errorMessage.contains("Last-Event-ID"))
            #expect(try await api.request(.get, "/services/agent-jobs/job_none/stream", token: env.readA).status == 404)
            #expect(try await api.request(.get, stream, token: env.writeB).status == 403)
            #expect(try await api.request(.get, stream, token: nil).status == 401)
        }
    }

    @Test(
        "the stream sends a keep-alive comment while nothing happens, then the next entry",
        arguments: StoreKind.available)
    func keepAlive(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        let job = try await steps.makeJob(env, at: 3600)
        let stream = JobStream(
            store: env.store, watcher: JobStreamWatcher(store: env.store, interval: .milliseconds(5)), jobID: job.id,
            after: 0, endedAtStart: false, keepAlive: .milliseconds(50))
        var chunks = stream.makeAsyncIterator()
        let first = String(decoding: try #require(try await chunks.next()), as: UTF8.self)
        #expect(SSEMessage.parse(first).map(\.event) == ["job"])
        // Nothing more is written: the next chunk can only be the keep-alive comment.
        #expect(String(decoding: try #require(try await chunks.next()), as: UTF8.self) == ": keep-alive\n\n")
        _ = try await env.store.cancelJob(
            id: job.id, orgID: TestEnvironment.orgA, reason: "enough", at: env.clock.now())
        let last = String(decoding: try #require(try await chunks.next()), as: UTF8.self)
        #expect(SSEMessage.parse(last).first?.data["job_status"].string == "CANCELED")
        #expect(SSEMessage.parse(last).first?.data["cancel_reason"].string == "enough")
        #expect(try await chunks.next() == nil)
    }
}
