import AgentJobsCore
import Foundation
import Logging
import Testing

@testable import AgentJobsPostgres

/// Token lookups made at once (PostgreSQL shares one query between them): each caller gets its
/// own token, a revoked one as revoked, an unknown one as nothing.
@Suite("Token lookups")
struct TokenLookupTests {
    static func id(_ token: String) throws -> String { try #require(TokenSecret.parse(token)).id }

    @Test("concurrent lookups each get their own token", arguments: StoreKind.available)
    func concurrent(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        let ids = try [env.writeA, env.readA, env.writeB, env.revokedA].map(Self.id) + ["tok_missing"]
        var expected: [String: AppToken?] = [:]
        for id in ids { expected[id] = try await env.store.token(id: id) }
        #expect(expected.values.compactMap { $0 }.count == 4)
        #expect(try expected[Self.id(env.revokedA)]??.revokedAt != nil)
        let store = env.store
        let answers = try await withThrowingTaskGroup(of: (String, AppToken?).self) { group in
            for index in 0..<200 {
                let id = ids[index % ids.count]
                group.addTask { (id, try await store.token(id: id)) }
            }
            return try await group.reduce(into: [(String, AppToken?)]()) { $0.append($1) }
        }
        #expect(answers.count == 200)
        for (id, token) in answers { #expect(token == expected[id] ?? nil, "token \(id)") }
    }

    @Test("one query for many ids, repeated and unknown ones included", arguments: StoreKind.available)
    func oneQuery(kind: StoreKind) async throws {
        guard kind == .postgres else { return }
        let env = try await TestEnvironment.make(kind)
        let store = try #require(env.store as? PostgresJobStore)
        let a = try Self.id(env.writeA)
        let b = try Self.id(env.revokedA)
        let found = try await PostgresJobStore.lookUpTokens(
            [a, b, a, "tok_missing"], client: store.client, statements: store.statements, logger: Logger(label: "test"))
        #expect(found.keys.sorted() == [a, b].sorted())
        #expect(found[a]?.orgID == TestEnvironment.orgA)
        #expect(found[b]?.revokedAt != nil)
        #expect(found[a]?.revokedAt == nil)
    }
}
