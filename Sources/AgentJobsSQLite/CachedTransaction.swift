import GRDB

/// Write transactions begun and committed by cached statements. GRDB's `write` compiles
/// `BEGIN IMMEDIATE TRANSACTION` and `COMMIT TRANSACTION` anew for every transaction: cached,
/// a create at one client took 26,000 fewer instructions, 3.4% (`bench/callgrind.py`). Used by
/// the writes made all the time (creates, claims, outcomes); the rest keep GRDB's `write`.
extension DatabaseWriter {
    /// `updates` in an immediate transaction on the writer (as `write`), from an async context.
    func transaction<T: Sendable>(_ updates: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await writeWithoutTransaction { db in try db.inCachedTransaction { try updates(db) } }
    }

    /// `updates` in an immediate transaction on the writer, on the calling thread (as `write`).
    func transactionNow<T>(_ updates: (Database) throws -> T) throws -> T {
        try writeWithoutTransaction { db in try db.inCachedTransaction { try updates(db) } }
    }
}

extension Database {
    /// `body` in an immediate transaction, committed when it returns and rolled back when it
    /// (or the commit) throws.
    func inCachedTransaction<T>(_ body: () throws -> T) throws -> T {
        try cachedStatement(sql: "BEGIN IMMEDIATE TRANSACTION").execute()
        do {
            let output = try body()
            try cachedStatement(sql: "COMMIT TRANSACTION").execute()
            return output
        } catch {
            if isInsideTransaction { try? rollback() }
            throw error
        }
    }
}
