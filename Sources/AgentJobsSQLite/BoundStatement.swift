import GRDB
import GRDBSQLite

/// One run of a statement of the writer's hot path (a transition's UPDATEs and INSERT, the
/// journal's and a create's INSERTs), its values bound by position with SQLite's own
/// functions.
///
/// GRDB's `execute(arguments:)` takes a `StatementArguments`: an array of existentials, each
/// turned into a `DatabaseValue` and validated, and past 20 values every string is copied
/// once more. In a drain that glue was about a fifth of SQLite's one writer. Here each value
/// goes straight to `sqlite3_bind_*` (SQLite copies strings once, as GRDB does).
///
/// The statement is GRDB's cached one for `sql`. It runs only inside a transaction GRDB
/// opened, returns no rows, and every one of its parameters is bound on every run: each is
/// checked, and a failure throws a `DatabaseError` as GRDB would, the statement reset for its
/// next use.
struct BoundStatement {
    private let statement: Statement
    private let handle: SQLiteStatement
    private var bound: CInt = 0
    private var bindFailure: CInt = SQLITE_OK

    /// Prepares a run of `sql` (compiled once per connection).
    init(_ db: Database, sql: String) throws {
        statement = try db.cachedStatement(sql: sql)
        handle = statement.sqliteStatement
        sqlite3_reset(handle)
    }

    private mutating func next(_ bind: (SQLiteStatement, CInt) -> CInt) {
        bound += 1
        let code = bind(handle, bound)
        if code != SQLITE_OK && bindFailure == SQLITE_OK { bindFailure = code }
    }

    /// Binds the next parameter to `value`.
    mutating func bind(_ value: String) {
        next { handle, index in
            sqlite3_bind_text(handle, index, value, CInt(value.utf8.count), sqliteTransient)
        }
    }

    /// Binds the next parameter to `value`.
    mutating func bind(_ value: Int64) {
        next { handle, index in sqlite3_bind_int64(handle, index, value) }
    }

    /// Binds the next parameter to `value`.
    mutating func bind(_ value: Int) {
        bind(Int64(value))
    }

    /// Binds the next parameter to `value`, or NULL.
    mutating func bind(_ value: String?) {
        guard let value else { return bindNull() }
        bind(value)
    }

    /// Binds the next parameter to `value`, or NULL.
    mutating func bind(_ value: Int64?) {
        guard let value else { return bindNull() }
        bind(value)
    }

    /// Binds the next parameter to `value`, or NULL.
    mutating func bind(_ value: Int?) {
        guard let value else { return bindNull() }
        bind(Int64(value))
    }

    /// Binds the next parameter to NULL.
    mutating func bindNull() {
        next { handle, index in sqlite3_bind_null(handle, index) }
    }

    /// Runs the statement to its end.
    func execute() throws {
        let connection = sqlite3_db_handle(handle)
        guard sqlite3_get_autocommit(connection) == 0 else {
            throw DatabaseError(resultCode: .SQLITE_MISUSE, message: "not in a transaction", sql: statement.sql)
        }
        let expected = sqlite3_bind_parameter_count(handle)
        guard bindFailure == SQLITE_OK, bound == expected else {
            throw DatabaseError(
                resultCode: ResultCode(rawValue: bindFailure == SQLITE_OK ? SQLITE_RANGE : bindFailure),
                message: "bound \(bound) of \(expected) parameters", sql: statement.sql)
        }
        while true {
            let code = sqlite3_step(handle)
            if code == SQLITE_DONE { return }
            if code == SQLITE_ROW { continue }
            let message = String(cString: sqlite3_errmsg(connection))
            sqlite3_reset(handle)
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: message, sql: statement.sql)
        }
    }
}

/// SQLite's `SQLITE_TRANSIENT`: it copies the bound bytes before the call returns.
let sqliteTransient = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)
