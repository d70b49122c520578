import AgentJobsCore
import Logging
import PostgresNIO

/// Every request looks its token up (a revoked token fails at once, also when another process
/// revoked it). On PostgreSQL each lookup was a query of its own, and at 32 clients those
/// queries were most of what `serve` spent in postgres-nio. Lookups made at once now share one
/// query (`WriteBatcher`): a lookup that finds none under way goes at once, alone; those that
/// arrive meanwhile go together in the next, which starts after each of them was asked, so
/// each still sees every revocation committed before its request.
extension PostgresJobStore {
    static func makeTokenLookups(
        client: PostgresClient, statements: Statements, logger: Logger
    ) -> WriteBatcher<String, AppToken?> {
        WriteBatcher(
            flush: { ids in
                let found = try await lookUpTokens(ids, client: client, statements: statements, logger: logger)
                return ids.map { .success(found[$0]) }
            },
            writeAlone: { id in
                try await lookUpTokens([id], client: client, statements: statements, logger: logger)[id]
            })
    }

    /// The tokens of `ids` that exist, by id.
    static func lookUpTokens(
        _ ids: [String], client: PostgresClient, statements: Statements, logger: Logger
    ) async throws -> [String: AppToken] {
        let unique = Array(Set(ids))
        let columns = PostgresRows.tokenColumns
        let rows: [PostgresRandomAccessRow]
        if unique.count == 1 {
            rows = try await statements.rows(
                "SELECT \(unescaped: columns) FROM app_tokens WHERE id = \(unique[0])", on: client, logger: logger)
        } else {
            rows = try await statements.rows(
                "SELECT \(unescaped: columns) FROM app_tokens WHERE id = ANY(\(unique))", on: client, logger: logger)
        }
        var tokens: [String: AppToken] = [:]
        for row in rows {
            let token = try PostgresRows.token(row)
            tokens[token.id] = token
        }
        return tokens
    }
}
