import AgentJobsCore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// How responses read: one key order, and when a job's next task is due.
@Suite("Reading the API")
struct APIReadingTests {
    @Test("next_run_at: scheduled_at while waiting to start, null once canceled", arguments: StoreKind.available)
    func nextRunAt(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        try await env.withClient { api in
            let created = try await api.create(
                jobBody(extra: #""scheduled_at": "2026-03-01T13:00:00.000Z""#), token: env.writeA)
            #expect(created.status == 201)
            #expect(created.json["data"]["next_run_at"].string == "2026-03-01T13:00:00.000Z")
            let id = try #require(created.json["data"]["job_id"].string)
            _ = try await api.request(.delete, "/services/agent-jobs/\(id)", token: env.writeA)
            let after = try await api.request(.get, "/services/agent-jobs/\(id)", token: env.readA)
            #expect(after.json["data"]["next_run_at"].isNull)
            #expect(after.json["data"].keys.contains("next_run_at"))
        }
    }

    @Test("JSON keys come out in one order: sorted, at every level")
    func keyOrder() async throws {
        let env = try await TestEnvironment.make()
        try await env.withClient { api in
            let created = try await api.create(
                jobBody(extra: #""params": {"zeta": 1, "alpha": {"y": 2, "b": 3}}"#), token: env.writeA)
            let id = try #require(created.json["data"]["job_id"].string)
            var bodies: [String] = []
            for _ in 0..<3 {
                let response = try await api.client.execute(
                    uri: "/services/agent-jobs/\(id)", method: .get,
                    headers: [.authorization: "Bearer \(env.readA)"], body: nil)
                bodies.append(String(buffer: response.body))
            }
            #expect(Set(bodies).count == 1, "the same bytes every time")
            let body = try #require(bodies.first)
            let keys = [
                "\"cancel_reason\"", "\"channel_code\"", "\"config\"", "\"created_at\"", "\"finished_at\"",
                "\"job_id\"", "\"job_status\"", "\"job_type_id\"", "\"next_run_at\"", "\"params\"",
                "\"result\"", "\"scheduled_at\"", "\"started_at\"", "\"target_channel\"", "\"tasks\"",
                "\"updated_at\"",
            ]
            let positions = keys.compactMap { body.range(of: $0)?.lowerBound }
            #expect(positions.count == keys.count)
            #expect(positions == positions.sorted(), "top-level keys sorted")
            #expect(body.contains(#""alpha":{"b":3,"y":2},"zeta":1"#), "nested keys sorted too: \(body)")
            let refused = try await api.client.execute(
                uri: "/services/agent-jobs?limit=0", method: .get,
                headers: [.authorization: "Bearer \(env.readA)"], body: nil)
            #expect(String(buffer: refused.body).hasPrefix(#"{"error":{"code":"bad_request","message":"#))
        }
    }
}

extension APIReadingTests {
    @Test(
        "a wrong method on a known path is 405 with Allow, in the usual error body; an unknown path stays 404",
        arguments: [
            (HTTPRequest.Method.put, "/services/agent-jobs", "GET, POST"),
            (.head, "/services/agent-jobs", "GET, POST"),
            (.patch, "/services/agent-jobs/job_123", "GET, DELETE"),
            (.post, "/healthz", "GET"),
        ])
    func methodNotAllowed(method: HTTPRequest.Method, path: String, allow: String) async throws {
        let env = try await TestEnvironment.make()
        try await env.withClient { api in
            let reply = try await api.request(method, path, token: env.writeA, body: method == .head ? nil : "{}")
            #expect(reply.status == 405)
            #expect(reply.headers[.allow] == allow)
            if method != .head {
                #expect(reply.errorCode == "method_not_allowed")
                #expect(reply.errorMessage.contains(method.rawValue) && reply.errorMessage.contains(allow))
            }
            let unknown = try await api.request(.get, "/services/nothing-here", token: env.writeA)
            #expect(unknown.status == 404)
        }
    }
}
