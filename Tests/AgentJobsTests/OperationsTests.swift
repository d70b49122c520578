import AgentJobsAPI
import AgentJobsSQLite
import Foundation
import GRDB
import Hummingbird
import HummingbirdTesting
import Logging
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

    @Test("a SQLite write lock held by another process: 503 with Retry-After, readyz 503; both recover")
    func busyDatabase() async throws {
        let env = try await TestEnvironment.make()
        let path = String(env.databaseURL.dropFirst("sqlite://".count))
        let store = try SQLiteJobStore(
            path: path, configuration: .init(busyTimeout: 0.2, readinessBusyTimeout: 0.05))
        var holder = GRDB.Configuration()
        holder.allowsUnsafeTransactions = true  // it keeps BEGIN IMMEDIATE open across accesses
        let other = try DatabaseQueue(path: path, configuration: holder)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let router = try buildRouter(store: store, clock: env.clock, logger: logger)
        try await Application(router: router, logger: logger).test(.router) { client in
            let api = APIClient(client: client)
            try other.inDatabase { db in try db.execute(sql: "BEGIN IMMEDIATE") }
            let refused = try await api.create(jobBody(), token: env.writeA)
            #expect(refused.status == 503)
            #expect(refused.headers[.retryAfter] == "1")
            #expect(refused.json["error"]["code"].string == "unavailable")
            #expect(refused.json["error"]["message"].string?.contains("busy") == true)
            let notReady = try await api.request(.get, "/readyz", token: nil)
            #expect(notReady.status == 503)
            #expect(notReady.headers[.retryAfter] == "1")
            // Reads still answer while the lock is held.
            #expect(try await api.list(token: env.writeA).status == 200)
            try other.inDatabase { db in try db.execute(sql: "ROLLBACK") }
            #expect(try await api.create(jobBody(), token: env.writeA).status == 201)
            #expect(try await api.request(.get, "/readyz", token: nil).status == 200)
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
