import AgentJobsAPI
import Foundation
import Testing

@Suite("Operations endpoints")
struct OperationsTests {
    @Test("healthz and readyz answer without auth")
    func health() async throws {
        let env = try await TestEnvironment.make()
        try await env.withClient { api in
            let health = try await api.request(.get, "/healthz", token: nil)
            #expect(health.status == 200)
            #expect(health.json["status"].string == "ok")
            let ready = try await api.request(.get, "/readyz", token: nil)
            #expect(ready.status == 200)
        }
    }

    @Test("the OpenAPI document is served and documents every operation")
    func openAPIDocument() async throws {
        let env = try await TestEnvironment.make()
        try await env.withClient { api in
            let response = try await api.client.execute(uri: "/openapi.yaml", method: .get)
            #expect(response.status == .ok)
            let text = String(buffer: response.body)
            #expect(text == (try OpenAPIDocument.yaml()))
            for operation in [
                "createJob", "listJobs", "getJob", "cancelJob", "Idempotency-Key", "Location", "WWW-Authenticate",
            ] {
                #expect(text.contains(operation))
            }
        }
    }

    @Test("unknown routes get the JSON error body")
    func unknownRoute() async throws {
        let env = try await TestEnvironment.make()
        try await env.withClient { api in
            let reply = try await api.request(.get, "/nowhere", token: nil)
            #expect(reply.status == 404)
            #expect(reply.errorCode == "not_found")
        }
    }

    @Test("a worker-only router serves health and metrics but not the jobs API")
    func workerRole() async throws {
        let env = try await TestEnvironment.make()
        try await env.withClient(configuration: .init(servesJobsAPI: false)) { api in
            let list = try await api.list(token: env.readA)
            #expect(list.status == 404)
            let health = try await api.request(.get, "/healthz", token: nil)
            #expect(health.status == 200)
        }
        try await env.withClient(configuration: .init(servesJobsAPI: true)) { api in
            let list = try await api.list(token: env.readA)
            #expect(list.status == 200)
        }
    }
}
