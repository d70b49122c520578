import Foundation
import Testing

/// One invalid create request and the field its 400 message must name.
struct InvalidCreate: Sendable, CustomTestStringConvertible {
    var body: String
    var query: String = ""
    var names: String
    var testDescription: String { names }
}

private let channel = #"{"org_id": "org-a", "platform": "slack", "type": "channel", "code": "C1"}"#

private func body(_ members: String) -> String { "{\(members)}" }

private let invalidCreates: [InvalidCreate] = [
    .init(
        body: body(
            #""target_channel": \#(channel), "job_type_id": "daily-report", "config": {"max_follow_ups": 10001}"#),
        names: "config.max_follow_ups must be an integer between 0 and 10000"),
    .init(
        body: body(
            #""target_channel": \#(channel), "job_type_id": "daily-report", "config": {"max_task_retries": 34074637}"#),
        names: "config.max_task_retries must be an integer between 0 and 10000"),
    .init(
        body: body(
            #""target_channel": \#(channel), "job_type_id": "daily-report", "config": {"task_retry_interval": 1e15}"#),
        names: "config.task_retry_interval must be a number of minutes >= 0 and at most 527040"),
    .init(
        body: body(
            #""target_channel": \#(channel), "job_type_id": "daily-report", "config": {"max_time_to_complete": 527041}"#
        ), names: "config.max_time_to_complete must be a number of minutes > 0 and at most 527040"),
    .init(body: "{not json", names: "not valid JSON"),
    .init(body: "[1, 2]", names: "must be a JSON object"),
    .init(body: "\"text\"", names: "must be a JSON object"),
    .init(body: body(#""job_type_id": "daily-report""#), names: "target_channel"),
    .init(body: body(#""target_channel": \#(channel)"#), names: "job_type_id"),
    .init(body: body(#""target_channel": 5, "job_type_id": "daily-report""#), names: "target_channel"),
    .init(body: body(#""target_channel": \#(channel), "job_type_id": 7"#), names: "job_type_id"),
    .init(body: body(#""target_channel": \#(channel), "job_type_id": """#), names: "job_type_id"),
    .init(
        body: body(
            #""target_channel": {"platform": "slack", "type": "c", "code": "C"}, "job_type_id": "daily-report""#),
        names: "target_channel.org_id"),
    .init(
        body: body(#""target_channel": {"org_id": "org-a", "type": "c", "code": "C"}, "job_type_id": "daily-report""#),
        names: "target_channel.platform"),
    .init(
        body: body(
            #""target_channel": {"org_id": "org-a", "platform": "s", "code": "C"}, "job_type_id": "daily-report""#),
        names: "target_channel.type"),
    .init(
        body: body(
            #""target_channel": {"org_id": "org-a", "platform": "s", "type": "c"}, "job_type_id": "daily-report""#),
        names: "target_channel.code"),
    .init(
        body: body(
            #""target_channel": {"org_id": "org-a", "platform": "", "type": "c", "code": "C"}, "job_type_id": "daily-report""#
        ), names: "target_channel.platform"),
    .init(
        body: body(
            #""target_channel": {"org_id": "org-a", "platform": "s", "type": " ", "code": "C"}, "job_type_id": "daily-report""#
        ), names: "target_channel.type"),
    .init(
        body: body(
            #""target_channel": {"org_id": "org-a", "platform": "s", "type": "c", "code": ""}, "job_type_id": "daily-report""#
        ), names: "target_channel.code"),
    .init(
        body: body(
            #""target_channel": {"org_id": "org-a", "platform": "s", "type": "c", "code": "\t\r\n "}, "job_type_id": "daily-report""#
        ), names: "target_channel.code"),
    .init(
        body: body(
            #""target_channel": {"org_id": "", "platform": "s", "type": "c", "code": "C"}, "job_type_id": "daily-report""#
        ), names: "target_channel.org_id"),
    .init(
        body: body(
            #""target_channel": {"org_id": "org-a", "platform": 1, "type": "c", "code": "C"}, "job_type_id": "daily-report""#
        ), names: "target_channel.platform"),
    .init(
        body: body(
            #""target_channel": {"org_id": "org-a", "platform": "s", "type": "c", "code": "C", "data": [1]}, "job_type_id": "daily-report""#
        ), names: "target_channel.data"),
    .init(body: body(#""target_channel": \#(channel), "job_type_id": "daily-report", "params": [1]"#), names: "params"),
    .init(body: body(#""target_channel": \#(channel), "job_type_id": "daily-report", "params": "x""#), names: "params"),
    .init(body: body(#""target_channel": \#(channel), "job_type_id": "daily-report", "config": 3"#), names: "config"),
    .init(
        body: body(#""target_channel": \#(channel), "job_type_id": "daily-report", "config": {"max_follow_ups": -1}"#),
        names: "config.max_follow_ups"),
    .init(
        body: body(#""target_channel": \#(channel), "job_type_id": "daily-report", "config": {"max_follow_ups": 1.5}"#),
        names: "config.max_follow_ups"),
    .init(
        body: body(#""target_channel": \#(channel), "job_type_id": "daily-report", "config": {"max_follow_ups": "2"}"#),
        names: "config.max_follow_ups"),
    .init(
        body: body(
            #""target_channel": \#(channel), "job_type_id": "daily-report", "config": {"max_task_retries": -3}"#),
        names: "config.max_task_retries"),
    .init(
        body: body(
            #""target_channel": \#(channel), "job_type_id": "daily-report", "config": {"max_task_retries": "x"}"#),
        names: "config.max_task_retries"),
    .init(
        body: body(
            #""target_channel": \#(channel), "job_type_id": "daily-report", "config": {"max_task_retries": true}"#),
        names: "config.max_task_retries"),
    .init(
        body: body(
            #""target_channel": \#(channel), "job_type_id": "daily-report", "config": {"task_retry_interval": -0.5}"#),
        names: "config.task_retry_interval"),
    .init(
        body: body(
            #""target_channel": \#(channel), "job_type_id": "daily-report", "config": {"task_retry_interval": "soon"}"#),
        names: "config.task_retry_interval"),
    .init(
        body: body(
            #""target_channel": \#(channel), "job_type_id": "daily-report", "config": {"max_time_to_complete": 0}"#),
        names: "config.max_time_to_complete"),
    .init(
        body: body(
            #""target_channel": \#(channel), "job_type_id": "daily-report", "config": {"max_time_to_complete": -5}"#),
        names: "config.max_time_to_complete"),
    .init(
        body: body(#""target_channel": \#(channel), "job_type_id": "daily-report", "config": {"start_prompt": 5}"#),
        names: "config.start_prompt"),
    .init(
        body: body(#""target_channel": \#(channel), "job_type_id": "daily-report", "config": {"profile_id": []}"#),
        names: "config.profile_id"),
    .init(
        body: body(
            #""target_channel": \#(channel), "job_type_id": "daily-report", "scheduled_at": "2026-03-02T10:00:00""#),
        names: "scheduled_at"),
    .init(
        body: body(#""target_channel": \#(channel), "job_type_id": "daily-report", "scheduled_at": "tomorrow""#),
        names: "scheduled_at"),
    .init(
        body: body(
            #""target_channel": \#(channel), "job_type_id": "daily-report", "scheduled_at": "2026-02-30T10:00:00Z""#),
        names: "scheduled_at"),
    .init(
        body: body(#""target_channel": \#(channel), "job_type_id": "daily-report", "scheduled_at": 1767225600"#),
        names: "scheduled_at"),
    .init(
        body: body(
            #""target_channel": {"org_id": "org-a", "platform": "s", "type": "c", "code": "C\u0000"}, "job_type_id": "daily-report""#
        ), names: "target_channel.code"),
    .init(body: body(#""target_channel": \#(channel), "job_type_id": "daily\u0000report""#), names: "job_type_id"),
    .init(
        body: body(
            #""target_channel": \#(channel), "job_type_id": "daily-report", "config": {"start_prompt": "a\u0000b"}"#),
        names: "config.start_prompt"),
    .init(
        body: body(#""target_channel": \#(channel), "job_type_id": "daily-report""#), query: "?delay=-1", names: "delay"
    ),
    .init(
        body: body(#""target_channel": \#(channel), "job_type_id": "daily-report""#), query: "?delay=abc",
        names: "delay"),
    .init(
        body: body(#""target_channel": \#(channel), "job_type_id": "daily-report""#), query: "?delay=1.5",
        names: "delay"),
]

@Suite("Create validation (CONTRACT §3)")
struct ValidationTests {
    @Test("400 naming the field", arguments: StoreKind.available, invalidCreates)
    func rejectsInvalidCreate(kind: StoreKind, _ invalid: InvalidCreate) async throws {
        let env = try await TestEnvironment.make(kind)
        try await env.withClient { api in
            let reply = try await api.create(invalid.body, token: env.writeA, query: invalid.query)
            #expect(reply.status == 400, "\(invalid.body) → \(reply.json)")
            #expect(reply.errorCode == "bad_request")
            #expect(
                reply.errorMessage.contains(invalid.names),
                "message '\(reply.errorMessage)' should name \(invalid.names)")
        }
    }

    @Test("an empty body is a 400")
    func emptyBody() async throws {
        let env = try await TestEnvironment.make()
        try await env.withClient { api in
            let reply = try await api.create("", token: env.writeA)
            #expect(reply.status == 400)
            #expect(reply.errorMessage.contains("body"))
        }
    }

    @Test("fractional minutes and zero interval are accepted")
    func acceptsBoundaryValues() async throws {
        let env = try await TestEnvironment.make()
        try await env.withClient { api in
            let reply = try await api.create(
                jobBody(
                    extra: #""config": {"task_retry_interval": 0, "max_time_to_complete": 0.05, "max_follow_ups": 0}"#),
                token: env.writeA, query: "?delay=0")
            #expect(reply.status == 201)
            #expect(reply.json["data"]["config"]["max_time_to_complete"].double == 0.05)
        }
    }
}
