import AgentJobsCore
import Foundation
import HTTPTypes
import Logging
import Testing

@testable import AgentJobsAPI
@testable import AgentJobsPostgres

/// Creates authenticated from the tokens a node verified before (`VerifiedTokens`), which the
/// store confirms in the create's write: a token revoked in the meantime, by any node, fails
/// the create with 401 and nothing is written.
@Suite("Creates that confirm their token in the write")
struct ConfirmedTokenCreateTests {
    static func id(_ token: String) throws -> String { try #require(TokenSecret.parse(token)).id }

    static func newJob(_ env: TestEnvironment) -> NewJob {
        PostgresCreateBatchTests.newJob(env)
    }

    @Test("the store writes for a valid token and refuses a revoked or unknown one", arguments: StoreKind.available)
    func store(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        let now = env.clock.now()
        let valid = try Self.id(env.writeA)
        let keyed = Self.newJob(env)
        let claim = IdempotencyClaim(key: "k1", fingerprint: "f")
        guard
            case .created = try await env.store.createJob(keyed, idempotency: claim, at: now, confirmingToken: valid)
        else { throw Failure("a valid token's keyed create was not created") }
        let plain = Self.newJob(env)
        _ = try await env.store.createJob(plain, idempotency: nil, at: now, confirmingToken: valid)
        #expect(try await env.store.job(id: plain.id) != nil)

        for token in [try Self.id(env.revokedA), "tok_unknown"] {
            for key in [nil, "k2", "k1"] {
                let job = Self.newJob(env)
                let claim = key.map { IdempotencyClaim(key: $0, fingerprint: "f") }
                await #expect(throws: AgentJobsError.tokenRevoked, "token \(token), key \(key ?? "none")") {
                    _ = try await env.store.createJob(job, idempotency: claim, at: now, confirmingToken: token)
                }
                #expect(try await env.store.job(id: job.id) == nil)
            }
        }
        // The key the refused creates presented is still free for a valid one.
        let later = Self.newJob(env)
        guard
            case .created = try await env.store.createJob(
                later, idempotency: IdempotencyClaim(key: "k2", fingerprint: "f"), at: now, confirmingToken: valid)
        else { throw Failure("key k2 was taken by a refused create") }
    }

    @Test("a batch of creates: only the revoked token's create is refused", arguments: StoreKind.available)
    func batch(kind: StoreKind) async throws {
        guard kind == .postgres else { return }
        let env = try await TestEnvironment.make(kind)
        let store = try #require(env.store as? PostgresJobStore)
        let (valid, revoked) = (try Self.id(env.writeA), try Self.id(env.revokedA))
        let jobs = (0..<4).map { _ in Self.newJob(env) }
        var requests = jobs.map { PostgresCreateBatchTests.request($0, env) }
        requests[0].token = valid
        requests[1].token = revoked
        requests[2].token = revoked
        requests[2].idempotency = IdempotencyClaim(key: "batch-key", fingerprint: "f")
        // requests[3]: no token to confirm (the scheduler's creates).
        let results = await PostgresJobStore.createBatch(
            requests, client: store.client, statements: store.statements, logger: Logger(label: "test"))
        for index in [0, 3] {
            guard case .created(let job)? = try? results[index].get() else {
                throw Failure("create \(index): \(results[index])")
            }
            #expect(job.id == jobs[index].id)
        }
        for index in [1, 2] {
            #expect(throws: AgentJobsError.tokenRevoked) { try results[index].get() }
            #expect(try await store.job(id: jobs[index].id) == nil)
        }
        let keyed = Self.newJob(env)
        guard
            case .created = try await store.createJob(
                keyed, idempotency: IdempotencyClaim(key: "batch-key", fingerprint: "f"), at: env.clock.now(),
                confirmingToken: valid)
        else { throw Failure("the refused create recorded its key") }
    }

    @Test(
        "a token revoked after this node verified it fails creates with 401: replays, bad bodies and read tokens too",
        arguments: StoreKind.available)
    func api(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        let key = HTTPField.Name("Idempotency-Key")!
        let token = try await makeToken(env)
        let readOnly = try await makeToken(env, access: [.servicesRead])
        try await env.withClient { api in
            let first = try await api.create(jobBody(), token: token, headers: [key: "once"])
            #expect(first.status == 201)
            #expect(try await api.create(jobBody(), token: token).status == 201)
            #expect(try await api.create(jobBody(), token: readOnly).status == 403)
            _ = try await env.store.revokeToken(id: Self.id(token), at: env.clock.now())
            _ = try await env.store.revokeToken(id: Self.id(readOnly), at: env.clock.now())
            let forbidden = try await api.create(jobBody(), token: readOnly)
            #expect(forbidden.status == 401, "a revoked read token's create: \(forbidden.errorMessage)")

            let cases: [(String, String, HTTPFields)] = [
                ("plain", jobBody(), [:]),
                ("replay of the first", jobBody(), [key: "once"]),
                ("new key", jobBody(), [key: "twice"]),
                ("invalid body", "{\"target_channel\": 1}", [:]),
                ("unknown job type", jobBody(jobType: "no-such-type"), [:]),
            ]
            for (name, body, headers) in cases {
                let reply = try await api.create(body, token: token, headers: headers)
                #expect(reply.status == 401, "\(name)")
                #expect(reply.errorCode == "unauthorized", "\(name)")
                #expect(reply.errorMessage.contains("revoked"), "\(name): \(reply.errorMessage)")
            }
            let page = try await api.list("?limit=100", token: env.readA)
            #expect(page.json["meta"]["total"].int == 2)
        }
    }

    /// A token of org A that the test revokes itself.
    func makeToken(_ env: TestEnvironment, access: Set<Access> = [.servicesWrite]) async throws -> String {
        let generated = TokenSecret.generate()
        try await env.store.createToken(
            AppToken(
                id: generated.id, orgID: TestEnvironment.orgA, access: access, name: nil,
                secretHash: generated.secretHash, createdAt: env.clock.now()))
        return generated.token
    }

    @Test("verified tokens: a revoked one is forgotten, and the cache starts over when full")
    func cache() {
        let tokens = VerifiedTokens(capacity: 2)
        func token(_ id: String, revoked: Bool = false) -> AppToken {
            AppToken(
                id: id, orgID: "org", access: [.servicesWrite], name: nil, secretHash: "h",
                createdAt: Date(timeIntervalSince1970: 0), revokedAt: revoked ? Date(timeIntervalSince1970: 1) : nil)
        }
        tokens.remember(token("a"))
        tokens.remember(token("b"))
        #expect(tokens.token(id: "a")?.id == "a")
        tokens.remember(token("a", revoked: true))
        #expect(tokens.token(id: "a") == nil)
        tokens.remember(token("c"))
        #expect(tokens.count == 2)
        tokens.remember(token("d"))
        #expect(tokens.count == 1)
        #expect(tokens.token(id: "d") != nil)
        tokens.remember(token("e", revoked: true))
        #expect(tokens.token(id: "e") == nil)
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }
}
