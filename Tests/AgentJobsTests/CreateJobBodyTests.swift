import AgentJobsCore
import Foundation
import NIOCore
import PropertyBased
import Testing

@testable import AgentJobsAPI

/// `JSONParser` and `CreateJobBody` (the create's fast path) against `JSONDecoder` and the
/// generated `CreateJobRequest`: whenever the fast way reads a body, it reads what the
/// generated way reads; what it is unsure of, it leaves to the generated way.
@Suite("The create's body without Codable")
struct CreateJobBodyTests {
    typealias Random = SplitMix

    /// The generated server's decoding: its date format, nothing else configured.
    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        let transcoder = TimestampTranscoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            try transcoder.decode(try decoder.singleValueContainer().decode(String.self))
        }
        return decoder
    }()

    /// The submission the generated way makes of `text`, or nil where it refuses the body.
    static func generated(_ text: String, delay: Int64? = nil) -> JobSubmission? {
        guard let body = try? decoder.decode(Components.Schemas.CreateJobRequest.self, from: Data(text.utf8)) else {
            return nil
        }
        return try? APIModelConversion.submission(body, delay: delay)
    }

    static func fast(_ text: String, delay: Int64? = nil) -> JobSubmission? {
        CreateJobBody.submission(ByteBuffer(string: text), delay: delay)
    }

    static func encoded(_ value: JSONValue) -> String {
        String(decoding: (try? JSONEncoder().encode(value)) ?? Data(), as: UTF8.self)
    }

    /// A random valid body: free-form params and channel data, each config field absent,
    /// `null` or set, a time or not, spaces between the tokens or not.
    static func body(seed: UInt64) -> String {
        var random = Random(state: seed)
        func maybe(_ key: String, _ text: @autoclosure () -> String) -> String? {
            switch Int.random(in: 0...2, using: &random) {
            case 0: nil
            case 1: "\"\(key)\": null"
            default: "\"\(key)\": \(text())"
            }
        }
        var config: [String] = []
        config.append(maybe("max_follow_ups", String(Int.random(in: 0...20, using: &random))) ?? "")
        config.append(maybe("max_task_retries", String(Int.random(in: -5...20, using: &random))) ?? "")
        config.append(maybe("task_retry_interval", String(Double.random(in: 0...100, using: &random))) ?? "")
        config.append(maybe("max_time_to_complete", String(Int.random(in: 1...600, using: &random))) ?? "")
        config.append(maybe("start_prompt", encoded(.string(JobJSONTests.text(&random)))) ?? "")
        config.append(maybe("profile_id", encoded(.string(JobJSONTests.text(&random)))) ?? "")
        let channelData = maybe("data", encoded(.object(JobJSONTests.object(&random))))
        var fields = [
            #""target_channel": {"org_id": "org-a", "platform": "slack", "type": "channel", "code": "C1"\#(channelData.map { ", " + $0 } ?? "")}"#,
            #""job_type_id": \#(encoded(.string(JobJSONTests.text(&random) + "t")))"#,
        ]
        if let config = maybe("config", "{" + config.filter { !$0.isEmpty }.joined(separator: ", ") + "}") {
            fields.append(config)
        }
        if let params = maybe("params", encoded(.object(JobJSONTests.object(&random)))) { fields.append(params) }
        if let time = maybe("scheduled_at", #""2026-03-01T12:00:00.123+02:00""#) { fields.append(time) }
        if Bool.random(using: &random) { fields.append(#""unknown": [1, {"a": null}]"#) }
        fields.shuffle(using: &random)
        let separator = Bool.random(using: &random) ? "," : " ,\n\t"
        return "{" + fields.joined(separator: separator) + "}"
    }

    @Test("any valid body: the fast way reads it, and reads what the generated way reads")
    func validBodies() async {
        await propertyCheck(count: 1500, input: Gen.uint64(in: 0...UInt64.max)) { seed in
            let text = Self.body(seed: seed)
            let generated = Self.generated(text, delay: 5)
            #expect(generated != nil, "seed \(seed): \(text)")
            #expect(Self.fast(text, delay: 5) == generated, "seed \(seed): \(text)")
        }
    }

    @Test("any JSON value: JSONParser reads what JSONDecoder reads")
    func parserMatchesJSONDecoder() async {
        await propertyCheck(count: 2000, input: Gen.uint64(in: 0...UInt64.max)) { seed in
            var random = Random(state: seed)
            let value = JobJSONTests.value(&random, depth: 0)
            let text = Self.encoded(value)
            let decoded = try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
            #expect(decoded != nil)
            #expect(JSONParser.parse(Array(text.utf8))?.jsonValue == decoded, "seed \(seed): \(text)")
        }
    }

    @Test(
        "what the fast way is unsure of goes the generated way",
        arguments: [
            #"{\#(validFields), "job_type_id": "k"}"#,  // a duplicate key
            #"{\#(validFields), "config": {"max_follow_ups": 1.0}}"#,  // an integer with a fraction
            #"{\#(validFields), "config": {"max_follow_ups": 1e1}}"#,  // an integer with an exponent
            #"{\#(validFields), "config": {"max_follow_ups": "1"}}"#,
            #"{\#(validFields), "config": {"task_retry_interval": 1e400}}"#,
            #"{\#(validFields), "config": []}"#,
            #"{\#(validFields), "params": [1]}"#,
            #"{\#(validFields), "params": {"a": "\ud800"}}"#,  // a lone surrogate
            #"{\#(validFields), "params": {"a": "\x"}}"#,
            #"{\#(validFields), "params": {"a": 01}}"#,
            #"{\#(validFields), "params": {"a": -}}"#,
            #"{\#(validFields), "params": {"a": .5}}"#,
            #"{\#(validFields), "params": {"a": tru}}"#,
            #"{\#(validFields), "params": {"a": 1,}}"#,
            #"{\#(validFields), "scheduled_at": "tomorrow"}"#,
            #"{\#(validFields), "scheduled_at": 5}"#,
            #"{\#(validFields)} x"#,
            #"{\#(validFields)"#,
            "\u{FEFF}{\(validFields)}",
            #"{"target_channel": {"org_id": "o", "platform": "p", "type": "t"}, "job_type_id": "j"}"#,
            #"{"target_channel": {"org_id": "o", "platform": "p", "type": "t", "code": 1}, "job_type_id": "j"}"#,
            #"{"target_channel": {"org_id": "o", "platform": "p", "type": "t", "code": "c", "data": 1}, "job_type_id": "j"}"#,
            #"{"target_channel": {"org_id": "o", "platform": "p", "type": "t", "code": "c"}}"#,
            #"{"target_channel": null, "job_type_id": "j"}"#,
            #"{\#(validFields), "params": {"deep": \#(String(repeating: "[", count: 100))\#(String(repeating: "]", count: 100))}}"#,
            "[]", "", "null",
        ])
    func unsure(text: String) {
        #expect(Self.fast(text) == nil)
    }

    @Test("the edges the fast way does read, it reads as the generated way does")
    func edges() {
        for text in [
            #"{\#(validFields)}"#,
            #"  {\#(validFields)}  "#,
            #"{\#(validFields), "params": null, "config": null, "scheduled_at": null}"#,
            #"{\#(validFields), "params": {"a": "\ud83d\ude42 \u00e9 \/ \" \\ \b\f\n\r\t", "b": [-0, 0.5e-3, 1E+2, 123456789012345678901234567890]}}"#,
            #"{\#(validFields), "config": {"max_follow_ups": 9223372036854775807, "task_retry_interval": 3, "max_time_to_complete": 0.25}}"#,
            #"{\#(validFields), "config": {"max_task_retries": -9223372036854775808}}"#,
            #"{\#(validFields), "params": {"é": 1, "e\u0301x": 2}}"#,
        ] {
            let generated = Self.generated(text)
            #expect(generated != nil, "\(text)")
            #expect(Self.fast(text) == generated, "\(text)")
        }
        // Invalid UTF-8 in a string.
        var bytes = ByteBuffer(string: #"{\#(validFields), "params": {"a": ""#)
        bytes.writeBytes([0xC3, 0x28])
        bytes.writeString("\"}}")
        #expect(CreateJobBody.submission(bytes, delay: nil) == nil)
    }
}

/// A create's required fields, valid.
private let validFields =
    #""target_channel": {"org_id": "o", "platform": "p", "type": "t", "code": "c"}, "job_type_id": "j""#
