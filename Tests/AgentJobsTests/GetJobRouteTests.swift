import AgentJobsCore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import OpenAPIRuntime
import PropertyBased
import Synchronization
import Testing

@testable import AgentJobsAPI

/// The job's fast path (`GetJobRoute`) answers what the generated server answers, and every fast
/// path stands in front of its generated operation.
@Suite("The job's fast path, and where the fast paths stand")
struct GetJobRouteTests {
    /// A job with random events, and random delivered events and progress on its tasks.
    static func detailedJob(seed: UInt64) -> Job {
        var job = JobJSONTests.job(seed: seed)
        var random = SplitMix(state: seed ^ 0xDE7A)
        job.events = (0..<Int.random(in: 0...3, using: &random)).map { _ in
            JobEvent(
                id: "evt_" + JobJSONTests.text(&random), jobID: job.id, type: JobJSONTests.text(&random),
                data: JobJSONTests.value(&random, depth: 0), createdAt: JobJSONTests.date(&random),
                deliveredToTaskID: JobJSONTests.optional(&random, JobJSONTests.text))
        }
        for index in job.tasks.indices {
            job.tasks[index].eventIDs = (0..<Int.random(in: 0...2, using: &random)).map { _ in
                JobJSONTests.text(&random)
            }
            job.tasks[index].progress = (0..<Int.random(in: 0...2, using: &random)).map { _ in
                ProgressEntry(
                    id: "prg_" + JobJSONTests.text(&random), jobID: job.id, taskID: job.tasks[index].id,
                    message: JobJSONTests.optional(&random, JobJSONTests.text),
                    data: JobJSONTests.value(&random, depth: 0), createdAt: JobJSONTests.date(&random))
            }
        }
        return job
    }

    @Test("any job with events and progress: JobJSON's detailed bytes are the generated encoding's")
    func sameBytesAsTheGeneratedEncoding() async {
        await propertyCheck(count: 1000, input: Gen.uint64(in: 0...UInt64.max)) { seed in
            let job = Self.detailedJob(seed: seed)
            let written = String(buffer: JobJSON.envelope(job, detailed: true))
            let generated = try? JobJSONTests.generatedEncoding(of: APIModelConversion.envelope(job, detailed: true))
            #expect(written == generated, "seed \(seed)")
        }
    }

    @Test("the fast path and the generated server answer GET of a job alike", arguments: StoreKind.available)
    func bothWaysAnswerAlike(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        let generated: HTTPFields = [.accept: "text/plain;q=0.1, application/json"]
        try await env.withClient { api in
            let created = try await api.create(jobBody(extra: #""params": {"s": "a/b \"é\""}"#), token: env.writeA)
            let id = try #require(created.json["data"]["job_id"].string)
            let event = try await api.request(
                .post, "/services/agent-jobs/\(id)/events", token: env.writeA,
                body: #"{"type": "answer", "data": {"choice": "weekly", "n": [1, 2.5, null]}}"#)
            #expect(event.status == 201)
            for (path, token) in [
                (id, env.readA),  // with its event
                (id, env.writeB),  // another org's
                ("job_01missing0000000000000000", env.readA),  // none
                ("not-a-job-id", env.readA),  // malformed
            ] {
                let uri = "/services/agent-jobs/\(path)"
                let fast = try await api.request(.get, uri, token: token)
                let slow = try await api.request(.get, uri, token: token, headers: generated)
                #expect(fast.status == slow.status, "\(path)")
                #expect(fast.text == slow.text, "\(path)")
                #expect(fast.headers[.contentType] == slow.headers[.contentType], "\(path)")
            }
            let shown = try await api.request(.get, "/services/agent-jobs/\(id)", token: env.readA)
            #expect(shown.json["data"]["events"][0]["type"].string == "answer")
        }
    }

    @Test("a plain request takes the fast path; any other reaches the generated operation")
    func fastPathsStandInFront() async throws {
        let env = try await TestEnvironment.make(.sqlite)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let handler = JobsAPIHandler(
            store: env.store, clock: env.clock, configuration: .init(), logger: logger,
            streams: JobStreamWatcher(store: env.store, interval: .seconds(1)))
        let router = Router(context: BasicRequestContext.self)
        let transport = APITransport(
            group: router.group(), createRoute: CreateJobRoute(handler: handler),
            listRoute: ListJobsRoute(handler: handler), getRoute: GetJobRoute(handler: handler))
        let generatedCalls = Mutex(0)
        for (method, path) in [
            (HTTPRequest.Method.post, CreateJobRoute.path), (.get, CreateJobRoute.path), (.get, GetJobRoute.path),
        ] {
            try transport.register(
                { _, _, _ in
                    generatedCalls.withLock { $0 += 1 }
                    return (HTTPResponse(status: .init(code: 418)), nil)
                }, method: method, path: path)
        }
        let app = Application(router: router, logger: logger)
        try await app.test(.router) { client in
            // Without a principal the fast paths refuse the request themselves (no 418).
            for (method, uri, body) in [
                (HTTPRequest.Method.post, "/services/agent-jobs", jobBody()),
                (.get, "/services/agent-jobs?limit=5", ""),
                (.get, "/services/agent-jobs/job_x", ""),
            ] {
                let response = try await client.execute(
                    uri: uri, method: method, headers: [.contentType: "application/json"],
                    body: ByteBuffer(string: body))
                #expect(response.status != .init(code: 418), "\(method) \(uri)")
            }
            #expect(generatedCalls.withLock { $0 } == 0)
            // Requests the fast paths do not take reach the generated operations.
            for (method, uri) in [
                (HTTPRequest.Method.post, "/services/agent-jobs?unknown=1"), (.get, "/services/agent-jobs?limit=x"),
                (.get, "/services/agent-jobs/job%5Fx"),
            ] {
                let response = try await client.execute(
                    uri: uri, method: method, headers: [.contentType: "application/json"],
                    body: ByteBuffer(string: jobBody()))
                #expect(response.status == .init(code: 418), "\(method) \(uri)")
            }
            #expect(generatedCalls.withLock { $0 } == 3)
        }
    }
}
