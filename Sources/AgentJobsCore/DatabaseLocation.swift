/// Where the data lives, parsed from `--database` / `AGENT_JOBS_DATABASE_URL`.
public enum DatabaseLocation: Sendable, Hashable {
    /// `sqlite://agent-jobs.sqlite` (relative to the working directory) or `sqlite:///abs/path`.
    case sqlite(path: String)
    /// `postgres://user:pass@host:port/db`.
    case postgres(url: String)

    /// The default: a file in the working directory.
    public static let defaultURL = "sqlite://agent-jobs.sqlite"

    /// Parses a database URL; the error names what is wrong.
    public init(url: String) throws(AgentJobsError) {
        if url.hasPrefix("sqlite://") {
            let path = String(url.dropFirst("sqlite://".count))
            guard !path.isEmpty else { throw .badRequest("database URL '\(url)' names no file") }
            self = .sqlite(path: path)
        } else if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
            self = .postgres(url: url)
        } else {
            throw .badRequest("database URL '\(url)' must start with sqlite:// or postgres://")
        }
    }
}
