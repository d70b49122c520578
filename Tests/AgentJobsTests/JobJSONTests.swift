import AgentJobsCore
import Foundation
import HTTPTypes
import NIOCore
import OpenAPIRuntime
import PropertyBased
import Testing

@testable import AgentJobsAPI

/// `JobJSON` writes what the generated types write, byte for byte, and the create's fast path
/// (`CreateJobRoute`) answers what the generated server answers.
@Suite("Job JSON and the create's fast path")
struct JobJSONTests {
    /// The generated server's encoder (`Converter`), configured as `buildRouter` configures it.
    static func generatedEncoding(_ job: Job) throws -> String {
        try generatedEncoding(of: APIModelConversion.envelope(job))
    }

    /// Any generated type, encoded as the generated server encodes it.
    static func generatedEncoding(of value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(Timestamp.format(date))
        }
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    typealias Random = SplitMix

    /// Text with what JSON must escape, slashes, non-ASCII and emoji among plain letters.
    static func text(_ random: inout Random) -> String {
        let pieces = [
            "a", "Z", "0", " ", "/", "\\", "\"", "\n", "\r", "\t", "\u{08}", "\u{0C}", "\u{01}", "\u{1F}", "\u{7F}",
            "é", "日本", "🙂", "<", ">", "&", "'", "\u{2028}", "%41", "null",
        ]
        return String(
            (0..<Int.random(in: 0...12, using: &random)).map { _ in pieces.randomElement(using: &random)! }.joined())
    }

    static func number(_ random: inout Random) -> Double {
        switch Int.random(in: 0...7, using: &random) {
        case 0: Double(Int.random(in: -1000...1000, using: &random))
        case 1: Double.random(in: -1...1, using: &random)
        case 2: Double.random(in: -1e20...1e20, using: &random)
        case 3:
            [0.1, 0.05, 1e-7, 2.5e-5, 123_456_789.125, 9.0e15, 8.999e15, -0.0][Int.random(in: 0...7, using: &random)]
        case 4: Double(Int.random(in: -9_000_000_000_000_000...9_000_000_000_000_000, using: &random))
        case 5: Double.random(in: 1e300...1e308, using: &random)
        default: Double.random(in: 0...100, using: &random).rounded() / 8
        }
    }

    static func value(_ random: inout Random, depth: Int) -> JSONValue {
        switch Int.random(in: 0...(depth > 2 ? 3 : 5), using: &random) {
        case 0: .null
        case 1: .bool(Bool.random(using: &random))
        case 2: .number(number(&random))
        case 3: .string(text(&random))
        case 4: .array((0..<Int.random(in: 0...3, using: &random)).map { _ in value(&random, depth: depth + 1) })
        default: .object(object(&random, depth: depth + 1))
        }
    }

    static func object(_ random: inout Random, depth: Int = 0) -> JSONObject {
        var members: JSONObject = [:]
        for _ in 0..<Int.random(in: 0...5, using: &random) { members[text(&random)] = value(&random, depth: depth) }
        return members
    }

    static func date(_ random: inout Random) -> Date {
        Date(timeIntervalSince1970: Double(Int64.random(in: 0...4_102_444_800_000, using: &random)) / 1000)
    }

    static func optional<T>(_ random: inout Random, _ make: (inout Random) -> T) -> T? {
        Bool.random(using: &random) ? make(&random) : nil
    }

    static func job(seed: UInt64) -> Job {
        var random = Random(state: seed)
        let config = JobConfig(
            maxFollowUps: Int.random(in: 0...100, using: &random),
            maxTaskRetries: Int.random(in: 0...100, using: &random),
            taskRetryInterval: abs(number(&random)), startPrompt: optional(&random, text),
            maxTimeToComplete: abs(number(&random)), profileID: optional(&random, text))
        var job = Job(
            id: "job_" + text(&random), orgID: text(&random), jobTypeID: text(&random),
            targetChannel: TargetChannel(
                orgID: text(&random), platform: text(&random), type: text(&random), code: text(&random),
                data: object(&random)),
            status: JobStatus.allCases.randomElement(using: &random)!, config: config, params: object(&random),
            createdAt: date(&random), updatedAt: date(&random), scheduledAt: date(&random),
            startedAt: optional(&random, date), finishedAt: optional(&random, date), result: optional(&random, text),
            cancelReason: optional(&random, text), nextRunAt: optional(&random, date),
            scheduleID: optional(&random, text))
        job.tasks = (0..<Int.random(in: 0...3, using: &random)).map { index in
            JobTask(
                id: "task_" + text(&random), jobID: job.id, kind: TaskKind.allCases.randomElement(using: &random)!,
                attempt: index + 1, status: TaskStatus.allCases.randomElement(using: &random)!,
                createdAt: date(&random), startedAt: optional(&random, date), finishedAt: optional(&random, date),
                result: optional(&random, text), error: optional(&random, text))
        }
        return job
    }

    @Test("any job: JobJSON's bytes are the generated encoding's")
    func sameBytesAsTheGeneratedEncoding() async {
        await propertyCheck(count: 2000, input: Gen.uint64(in: 0...UInt64.max)) { seed in
            let job = Self.job(seed: seed)
            let written = String(buffer: JobJSON.envelope(job))
            #expect(written == (try? Self.generatedEncoding(job)), "seed \(seed)")
        }
    }

    @Test("a plain create takes the fast path only when the generated server would take it too")
    func fastPathConditions() {
        #expect(APITransport.acceptsJSON(nil))
        #expect(APITransport.acceptsJSON("application/json"))
        #expect(APITransport.acceptsJSON("*/*;q=0.8, text/html"))
        #expect(!APITransport.acceptsJSON("text/html, application/json"))
        #expect(!APITransport.acceptsJSON("garbage"))
        #expect(CreateJobRoute.delay(in: nil) == .some(nil))
        #expect(CreateJobRoute.delay(in: "") == .some(nil))
        #expect(CreateJobRoute.delay(in: "delay=15") == .some(15))
        #expect(CreateJobRoute.delay(in: "delay=+5") == nil)
        #expect(CreateJobRoute.delay(in: "delay=1234567") == nil)
        #expect(CreateJobRoute.delay(in: "delay=5&x=1") == nil)
        #expect(CreateJobRoute.delay(in: "other=5") == nil)
    }

    @Test(
        "the fast path and the generated server answer a create alike: status, headers and the same job's bytes",
        arguments: StoreKind.available)
    func bothWaysAnswerAlike(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        // The generated way is taken when the first media range of Accept is not JSON.
        let generated: HTTPFields = [.accept: "text/plain;q=0.1, application/json"]
        let body = jobBody(
            extra:
                #""config": {"max_task_retries": 2, "task_retry_interval": 0.05, "start_prompt": "a/b \"q\" é"}, "params": {"x": [1, 2.5, null, {"k": "v"}], "b": true}"#
        )
        try await env.withClient { api in
            for (first, second) in [(HTTPFields(), generated), (generated, HTTPFields())] {
                let key = UUID().uuidString
                var firstHeaders = first
                firstHeaders[.idempotencyKey] = key
                var secondHeaders = second
                secondHeaders[.idempotencyKey] = key
                let created = try await api.create(body, token: env.writeA, query: "?delay=0", headers: firstHeaders)
                let replayed = try await api.create(body, token: env.writeA, query: "?delay=0", headers: secondHeaders)
                #expect(created.status == 201)
                #expect(replayed.status == 200)
                // The replay shows the same job, so the two bodies must be the same bytes.
                #expect(created.text == replayed.text)
                #expect(created.headers[.contentType] == replayed.headers[.contentType])
                #expect(created.headers[.location] == replayed.headers[.location])
                #expect(
                    created.headers[.location] == "/services/agent-jobs/\(created.json["data"]["job_id"].string ?? "?")"
                )
            }
            // A malformed create goes the generated way and gets its error.
            let bad = try await api.create(
                jobBody(extra: #""scheduled_at": "tomorrow""#), token: env.writeA)
            #expect(bad.status == 400)
            #expect(bad.errorMessage.contains("scheduled_at"))
        }
    }
}
