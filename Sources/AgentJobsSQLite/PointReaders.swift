import Foundation
import GRDB
import GRDBSQLite
import Synchronization

/// Read-only connections of their own for the lookup that every request makes (its token, by
/// primary key): one per core, each used by one caller at a time, driven through SQLite's C
/// API.
///
/// GRDB's reader pool hands out a connection through a concurrent queue's barrier, a
/// semaphore, a group and a lock; a `DatabaseQueue` per core still ran each lookup through a
/// serial queue's `sync` and built a cursor, a row, an arguments array and a decoded value per
/// column. At 32 clients that glue was about two thirds of the lookup, and the lookup 11% of
/// a create's CPU, more than the job's INSERT. Here a caller takes a free connection (the
/// next in turn when both are busy), binds the key, steps once and reads the columns by
/// position. Each statement sees the database as committed when it starts, another
/// process's commits included, as a pool reader's did.
final class PointReaders: Sendable {
    private let connections: [PointConnection]
    private let next = Atomic<Int>(0)

    /// Opens `count` read-only connections to the database file at `path`, which must exist
    /// (in WAL mode, as the store's pool leaves it).
    init(path: String, count: Int, busyTimeout: TimeInterval) throws {
        connections = try (0..<max(1, count)).map { _ in try PointConnection(path: path, busyTimeout: busyTimeout) }
    }

    /// Runs `sql`, whose one parameter is bound to `key`, and reads its first row with `read`;
    /// `nil` when it returns none.
    func firstRow<T>(_ sql: String, key: String, _ read: (PointRow) throws -> T) throws -> T? {
        let turn = Int(UInt(bitPattern: next.wrappingAdd(1, ordering: .relaxed).oldValue) % UInt(connections.count))
        for offset in 0..<connections.count {
            let connection = connections[(turn + offset) % connections.count]
            if let answer = try connection.firstRowIfFree(sql, key: key, read) { return answer }
        }
        return try connections[turn].firstRow(sql, key: key, read)
    }
}

/// One row of a `PointReaders` statement, read by column position (valid only inside the
/// closure it is given to).
struct PointRow {
    fileprivate let statement: OpaquePointer

    /// The column's text; `""` when it is NULL.
    func text(_ column: Int32) -> String {
        guard let bytes = sqlite3_column_text(statement, column) else { return "" }
        let count = Int(sqlite3_column_bytes(statement, column))
        return String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
    }

    /// The column's text, or `nil` when it is NULL.
    func optionalText(_ column: Int32) -> String? {
        sqlite3_column_type(statement, column) == SQLITE_NULL ? nil : text(column)
    }

    /// The column's integer (0 when it is NULL).
    func int64(_ column: Int32) -> Int64 {
        sqlite3_column_int64(statement, column)
    }

    /// The column's integer, or `nil` when it is NULL.
    func optionalInt64(_ column: Int32) -> Int64? {
        sqlite3_column_type(statement, column) == SQLITE_NULL ? nil : int64(column)
    }
}

/// One read-only connection and the statements it compiled; its lock makes it one caller's
/// at a time (hence `@unchecked Sendable`: nothing is touched outside the lock).
private final class PointConnection: @unchecked Sendable {
    private let lock = NSLock()
    private let connection: OpaquePointer
    /// Compiled once per connection, by their SQL.
    private var statements: [String: OpaquePointer] = [:]

    init(path: String, busyTimeout: TimeInterval) throws {
        var opened: OpaquePointer?
        let code = sqlite3_open_v2(path, &opened, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nil)
        guard code == SQLITE_OK, let opened else {
            let message = opened.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(opened)
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: "\(message) (\(path))")
        }
        sqlite3_extended_result_codes(opened, 1)
        sqlite3_busy_timeout(opened, CInt(min(busyTimeout * 1000, Double(CInt.max))))
        connection = opened
    }

    deinit {
        for statement in statements.values { sqlite3_finalize(statement) }
        sqlite3_close_v2(connection)
    }

    /// `firstRow` when no other caller has the connection; `.none` when one has.
    func firstRowIfFree<T>(_ sql: String, key: String, _ read: (PointRow) throws -> T) throws -> T?? {
        guard lock.try() else { return .none }
        defer { lock.unlock() }
        return .some(try unlockedFirstRow(sql, key: key, read))
    }

    /// Runs `sql` with `key` and reads its first row, waiting for the connection if needed.
    func firstRow<T>(_ sql: String, key: String, _ read: (PointRow) throws -> T) throws -> T? {
        lock.lock()
        defer { lock.unlock() }
        return try unlockedFirstRow(sql, key: key, read)
    }

    private func unlockedFirstRow<T>(_ sql: String, key: String, _ read: (PointRow) throws -> T) throws -> T? {
        let statement = try prepared(sql)
        defer { sqlite3_reset(statement) }
        let bound = sqlite3_bind_text(statement, 1, key, CInt(key.utf8.count), sqliteTransient)
        guard bound == SQLITE_OK else { throw failure(bound, sql) }
        switch sqlite3_step(statement) {
        case SQLITE_ROW: return try read(PointRow(statement: statement))
        case SQLITE_DONE: return nil
        case let code: throw failure(code, sql)
        }
    }

    private func prepared(_ sql: String) throws -> OpaquePointer {
        if let statement = statements[sql] { return statement }
        var statement: OpaquePointer?
        let code = sqlite3_prepare_v3(connection, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard code == SQLITE_OK, let statement else { throw failure(code, sql) }
        statements[sql] = statement
        return statement
    }

    private func failure(_ code: CInt, _ sql: String) -> DatabaseError {
        DatabaseError(
            resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(connection)), sql: sql)
    }
}
