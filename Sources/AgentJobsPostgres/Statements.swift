import Logging
import PostgresNIO

/// How the store sends the statements it runs many times a second: the creates', the token
/// lookups', the scheduler's wake times' and the claim's due orgs.
///
/// Sent prepared (the default), each is parsed once per connection and, once PostgreSQL keeps
/// a plan for it, executed with its values alone. postgres-nio's `query` sends every
/// statement unnamed, which PostgreSQL parses and plans anew each time: for a create at one
/// client or the token lookup before it, that was more of the database's time than running
/// it (`bench/HISTORY.md`, "This evening's changes").
///
/// The statements whose arrays and record sets range from one row to hundreds (the
/// transitions, the claim's and the outcomes' row locks, the lease renewals) do not come
/// here: they go through `query`, unnamed, planned for their own values every time.
/// Prepared, PostgreSQL switched them after five executions to one plan for any values, which
/// ran two to three times slower once claims and outcomes of every size mixed (create →
/// COMPLETED at 32 clients: 1,044–1,231 jobs/s against 1,595–1,631 unnamed), and planning each
/// prepared execution for its values instead (`plan_cache_mode = force_custom_plan`) gained
/// nothing over sending them unnamed.
///
/// Prepared statements live on a connection, so a pooler that hands each transaction to another
/// server connection without tracking them (pgbouncer in transaction mode before 1.21, or
/// without `max_prepared_statements`) breaks them: `prepared_statements=off` in the database
/// URL sends everything unnamed. A store whose clock is given (tests) writes the time into
/// the statements' text, so it sends them unnamed too.
///
/// A prepared statement's result columns are fixed when it is prepared: one that read
/// `SELECT *` would fail once a migration adds a column under a running node. The statements
/// sent through here name their columns (`PostgresRows.jobColumns`, `tokenColumns`).
struct Statements: Sendable {
    /// Whether statements go prepared.
    let prepared: Bool

    /// The rows of `query`, on `connection`: prepared under a name made from its text, or
    /// unnamed when statements do not go prepared.
    func rows(
        _ query: PostgresQuery, on connection: PostgresConnection, logger: Logger
    ) async throws -> [PostgresRandomAccessRow] {
        guard prepared else {
            return try await PostgresRows.all(connection.query(query, logger: logger))
        }
        let statement = NamedStatement(bindings: query.binds)
        return try await NamedStatement.$text.withValue(NamedStatement.Text(sql: query.sql)) {
            var rows: [PostgresRandomAccessRow] = []
            for try await row in try await connection.execute(statement, logger: logger) {
                rows.append(row.makeRandomAccess())
            }
            return rows
        }
    }

    /// The rows of `query`, on a connection of `client`'s pool.
    func rows(
        _ query: PostgresQuery, on client: PostgresClient, logger: Logger
    ) async throws -> [PostgresRandomAccessRow] {
        try await client.withConnection { connection in
            try await rows(query, on: connection, logger: logger)
        }
    }
}

/// A statement prepared under a name made from its text. postgres-nio names and describes a
/// prepared statement by static members of its type; these read the text of the statement
/// being sent from a task-local value, which `Statements.rows` sets around the call.
struct NamedStatement: PostgresPreparedStatement {
    struct Text: Sendable {
        var name: String
        var sql: String

        init(sql: String) {
            self.sql = sql
            name = Self.name(of: sql)
        }

        /// `aj_` and the 64-bit FNV-1a hash of the text, in hex: the same text gets the same
        /// name on every connection, and different texts different names.
        static func name(of sql: String) -> String {
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325
            for byte in sql.utf8 {
                hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
            }
            let hex = String(hash, radix: 16)
            return "aj_" + String(repeating: "0", count: 16 - hex.count) + hex
        }
    }

    @TaskLocal static var text = Text(sql: "")

    static var name: String { text.name }
    static var sql: String { text.sql }

    typealias Row = PostgresRow

    let bindings: PostgresBindings

    func makeBindings() throws -> PostgresBindings { bindings }

    func decodeRow(_ row: PostgresRow) throws -> PostgresRow { row }
}
