import PostgresNIO

/// Builds a query with positional bindings (`$1`, `$2`, …) for SQL assembled at run time.
struct SQLBuilder {
    private(set) var sql = ""
    private(set) var binds = PostgresBindings()

    init(_ sql: String = "") {
        self.sql = sql
    }

    mutating func append(_ text: String) {
        sql += text
    }

    /// Appends a placeholder bound to `value`.
    mutating func bind<Value: PostgresThrowingDynamicTypeEncodable>(_ value: Value) throws {
        try binds.append(value)
        sql += "$\(binds.count)"
    }

    var query: PostgresQuery { PostgresQuery(unsafeSQL: sql, binds: binds) }

    /// The query `prefix` followed by what was built.
    func query(prefix: String) -> PostgresQuery { PostgresQuery(unsafeSQL: prefix + sql, binds: binds) }
}
