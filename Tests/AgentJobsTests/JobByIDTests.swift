import Foundation
import HTTPTypes
import Testing

@Suite("GET and DELETE /services/agent-jobs/{id}")
struct JobByIDTests {
    @Test("404 for ids that name no job, whatever their shape; 400 for a blank id", arguments: StoreKind.available)
    func unknownAndBlankIDs(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        try await env.withClient { api in
            for id in ["nope", "job_01", "123", "%E2%9C%93", "a.b-c", "job%00x"] {
                for method in [HTTPRequestMethod.get, .delete] {
                    let reply = try await api.request(method.value, "/services/agent-jobs/\(id)", token: env.writeA)
                    #expect(reply.status == 404, "\(method) \(id)")
                    #expect(reply.errorCode == "not_found")
                }
            }
            for method in [HTTPRequestMethod.get, .delete] {
                let blank = try await api.request(method.value, "/services/agent-jobs/%20", token: env.writeA)
                #expect(blank.status == 400)
                #expect(blank.errorMessage.contains("id"))
            }
        }
    }

    @Test("cancel: exact message, CANCELED with reason, then 409", arguments: StoreKind.available)
    func cancel(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        try await env.withClient { api in
            let id = try #require(try await api.create(jobBody(), token: env.writeA).json["data"]["job_id"].string)
            env.clock.advance(seconds: 5)
            let reply = try await api.request(
                .delete, "/services/agent-jobs/\(id)", token: env.writeA, body: #"{"reason": "No longer needed"}"#)
            #expect(reply.status == 200)
            #expect(reply.json["message"].string == "Job with ID '\(id)' successfully canceled")
            #expect(reply.json["meta"]["job_id"].string == id)
            #expect(reply.json["meta"]["org_id"].string == TestEnvironment.orgA)

            let job = try await api.request(.get, "/services/agent-jobs/\(id)", token: env.readA).json["data"]
            #expect(job["job_status"].string == "CANCELED")
            #expect(job["cancel_reason"].string == "No longer needed")
            #expect(job["updated_at"].string == "2026-03-01T12:00:05.000Z")
            #expect(job["finished_at"].string == "2026-03-01T12:00:05.000Z")

            let again = try await api.request(.delete, "/services/agent-jobs/\(id)", token: env.writeA)
            #expect(again.status == 409)
            #expect(again.errorCode == "conflict")
            #expect(again.errorMessage.contains("CANCELED"))
        }
    }

    @Test("cancel takes an empty body, an empty object, or no content type", arguments: StoreKind.available)
    func cancelBodies(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        try await env.withClient { api in
            for body in [nil, "", "{}", "  "] as [String?] {
                let id = try #require(try await api.create(jobBody(), token: env.writeA).json["data"]["job_id"].string)
                let reply = try await api.request(.delete, "/services/agent-jobs/\(id)", token: env.writeA, body: body)
                #expect(reply.status == 200, "body \(String(describing: body))")
                let job = try await api.request(.get, "/services/agent-jobs/\(id)", token: env.readA).json["data"]
                #expect(job["cancel_reason"].isNull)
            }
            let id = try #require(try await api.create(jobBody(), token: env.writeA).json["data"]["job_id"].string)
            let bad = try await api.request(
                .delete, "/services/agent-jobs/\(id)", token: env.writeA, body: #"{"reason": 5}"#)
            #expect(bad.status == 400)
            #expect(bad.errorMessage.contains("reason"))
            let notJSON = try await api.request(.delete, "/services/agent-jobs/\(id)", token: env.writeA, body: "{")
            #expect(notJSON.status == 400)
            let plain = try await api.request(
                .delete, "/services/agent-jobs/\(id)", token: env.writeA, body: "stop", contentType: "text/plain")
            #expect(plain.status == 415)
            #expect(plain.errorCode == "unsupported_media_type")
            let huge = try await api.request(
                .delete, "/services/agent-jobs/\(id)", token: env.writeA,
                body: "{\"reason\": \"\(String(repeating: "x", count: 1 << 20))\"}")
            #expect(huge.status == 413)
            #expect(huge.errorCode == "payload_too_large")
            let nul = try await api.request(
                .delete, "/services/agent-jobs/\(id)", token: env.writeA, body: #"{"reason": "a\u0000b"}"#)
            #expect(nul.status == 400)
            #expect(nul.errorMessage.contains("reason"))
        }
    }
}

/// Methods named for parameterized loops.
enum HTTPRequestMethod {
    case get, delete
    var value: HTTPRequest.Method { self == .get ? .get : .delete }
}
