import Foundation
import HTTPTypes
import Testing

@Suite("Idempotency-Key")
struct IdempotencyTests {
    static let key = HTTPField.Name("Idempotency-Key")!

    @Test(
        "a replay returns the first job with 200; a different body is 409; keys are per org; 24 h window",
        arguments: StoreKind.available)
    func replays(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        try await env.withClient { api in
            let first = try await api.create(jobBody(), token: env.writeA, headers: [Self.key: "k-1"])
            #expect(first.status == 201)
            let id = try #require(first.json["data"]["job_id"].string)

            env.clock.advance(seconds: 60)
            let replay = try await api.create(jobBody(), token: env.writeA, headers: [Self.key: "k-1"])
            #expect(replay.status == 200)
            #expect(replay.json["data"]["job_id"].string == id)
            #expect(replay.headers[.location] == "/services/agent-jobs/\(id)")

            let conflict = try await api.create(jobBody(code: "OTHER"), token: env.writeA, headers: [Self.key: "k-1"])
            #expect(conflict.status == 409)
            #expect(conflict.errorMessage.contains("Idempotency-Key"))

            let delayed = try await api.create(
                jobBody(), token: env.writeA, query: "?delay=5", headers: [Self.key: "k-1"])
            #expect(delayed.status == 409, "the delay parameter is part of the request")

            let otherOrg = try await api.create(
                jobBody(org: TestEnvironment.orgB), token: env.writeB, headers: [Self.key: "k-1"])
            #expect(otherOrg.status == 201)
            #expect(otherOrg.json["data"]["job_id"].string != id)

            let list = try await api.list(token: env.readA)
            #expect(list.json["meta"]["total"].int == 1)

            env.clock.advance(seconds: 24 * 3600)
            let afterWindow = try await api.create(jobBody(), token: env.writeA, headers: [Self.key: "k-1"])
            #expect(afterWindow.status == 201)
            #expect(afterWindow.json["data"]["job_id"].string != id)
        }
    }

    @Test("concurrent creates with one key make one job", arguments: StoreKind.available)
    func concurrentReplays(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        try await env.withClient { api in
            let replies = try await withThrowingTaskGroup(of: Reply.self) { group in
                for _ in 0..<20 {
                    group.addTask { try await api.create(jobBody(), token: env.writeA, headers: [Self.key: "same"]) }
                }
                return try await group.reduce(into: [Reply]()) { $0.append($1) }
            }
            #expect(replies.filter { $0.status == 201 }.count == 1)
            #expect(replies.filter { $0.status == 200 }.count == 19)
            #expect(Set(replies.compactMap { $0.json["data"]["job_id"].string }).count == 1)
        }
    }

    @Test("a blank key is a 400", arguments: StoreKind.available)
    func blankKey(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        try await env.withClient { api in
            let reply = try await api.create(jobBody(), token: env.writeA, headers: [Self.key: " "])
            #expect(reply.status == 400)
            #expect(reply.errorMessage.contains("Idempotency-Key"))
        }
    }

    @Test("a key is opaque: percent signs are not decoded, so 'a%41' and 'aA' are two keys and 'a%zz' is fine")
    func opaqueKey() async throws {
        let env = try await TestEnvironment.make()
        try await env.withClient { api in
            let encoded = try await api.create(jobBody(), token: env.writeA, headers: [Self.key: "a%41"])
            let plain = try await api.create(jobBody(), token: env.writeA, headers: [Self.key: "aA"])
            #expect(encoded.status == 201 && plain.status == 201)
            #expect(encoded.json["data"]["job_id"].string != plain.json["data"]["job_id"].string)
            let odd = try await api.create(jobBody(), token: env.writeA, headers: [Self.key: "a%zz +,;"])
            let again = try await api.create(jobBody(), token: env.writeA, headers: [Self.key: "a%zz +,;"])
            #expect(odd.status == 201 && again.status == 200)
            #expect(odd.json["data"]["job_id"].string == again.json["data"]["job_id"].string)
            let nonASCII = try await api.create(jobBody(), token: env.writeA, headers: [Self.key: "caf\u{e9}"])
            #expect(nonASCII.status == 400)
        }
    }
}
