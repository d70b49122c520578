/// Where the data lives, parsed from `--database` / `AGENT_JOBS_DATABASE_URL`.
public enum DatabaseLocation: Sendable, Hashable {
    /// `sqlite://agent-jobs.sqlite` (relative to the working directory) or `sqlite:///abs/path`.
    case sqlite(path: String)
    /// `postgres://user:pass@host:port/db`, with any of the parameters `postgresParameters` names.
    case postgres(url: String)

    /// The parameters a PostgreSQL URL may carry, with the values each takes (`nil`: any
    /// value but an empty one).
    public static let postgresParameters: [(name: String, values: [String]?)] = [
        ("sslmode", ["disable", "prefer", "require"]),
        ("search_path", nil),
        ("prepared_statements", ["on", "off"]),
    ]

    /// The default: a file in the working directory.
    public static let defaultURL = "sqlite://agent-jobs.sqlite"

    /// Parses a database URL; the error names what is wrong.
    public init(url: String) throws(AgentJobsError) {
        if url.hasPrefix("sqlite://") {
            let path = String(url.dropFirst("sqlite://".count))
            guard !path.isEmpty else { throw .badRequest("database URL '\(url)' names no file") }
            self = .sqlite(path: path)
        } else if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
            try Self.checkPostgresParameters(url)
            self = .postgres(url: url)
        } else {
            throw .badRequest("database URL '\(url)' must start with sqlite:// or postgres://")
        }
    }

    /// Refuses a parameter that is not known, or a value it does not take; the message names
    /// the parameter (never the URL, which may hold a password).
    static func checkPostgresParameters(_ url: String) throws(AgentJobsError) {
        guard let query = url.split(separator: "?", maxSplits: 1).dropFirst().first else { return }
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = String(parts[0])
            let value = parts.count > 1 ? String(parts[1]) : ""
            guard let known = postgresParameters.first(where: { $0.name == name }) else {
                let names = postgresParameters.map(\.name).joined(separator: ", ")
                throw .badRequest("database URL parameter '\(name)' is not one of \(names)")
            }
            if let values = known.values, !values.contains(value) {
                throw .badRequest(
                    "database URL: \(name) must be one of \(values.joined(separator: ", ")) (not '\(value)')")
            }
            if value.isEmpty { throw .badRequest("database URL: \(name) needs a value") }
        }
    }
}
