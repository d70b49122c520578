/// Rules for text that is stored in columns or used in lookups.
public enum TextRules {
    /// NUL characters cannot be stored in PostgreSQL text; they are refused everywhere so both
    /// stores behave alike.
    public static func rejectNUL(_ value: String?, field: String) throws(AgentJobsError) {
        if let value, value.utf8.contains(0) {
            throw .badRequest("\(field) must not contain NUL characters")
        }
    }

    /// Whether `value` could name a stored record (ids never contain NUL).
    public static func isStorable(_ value: String) -> Bool {
        !value.utf8.contains(0)
    }
}
