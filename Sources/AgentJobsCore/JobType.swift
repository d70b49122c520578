import Foundation

/// How the tasks of a job type are executed.
public enum ExecutorSpec: Sendable, Hashable, Codable {
    /// Runs a local program; the task document arrives on stdin.
    case command(String)
    /// POSTs the task document to an agent runtime, optionally signed with HMAC-SHA256.
    case http(url: String, secret: String?)
    /// The built-in demo executor used by `serve --demo`.
    case demo

    /// The kinds of executor, by the name job types and the CLI use.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case command, http, demo
    }

    /// Which executor runs the spec.
    public var kind: Kind {
        switch self {
        case .command: .command
        case .http: .http
        case .demo: .demo
        }
    }

    /// The executor's name (`command`, `http`, `demo`).
    public var name: String { kind.rawValue }
}

/// A kind of job, naming the executor that runs its tasks and its default config.
public struct JobType: Sendable, Hashable {
    public var id: String
    /// When set, only this org may create jobs of the type; for others it does not exist.
    public var orgID: String?
    public var executor: ExecutorSpec
    public var defaultConfig: JobConfigOverrides
    /// Variables its programs get beyond the base ones (`command` executor).
    public var environment: [EnvironmentVariable]
    /// The longest one task may run, in minutes (default 60), whatever the job's
    /// `max_time_to_complete`; past it the task fails with `task timeout exceeded`.
    public var taskTimeoutMinutes: Double
    public var createdAt: Date

    /// The default task timeout: 60 minutes.
    public static let defaultTaskTimeoutMinutes = 60.0

    public init(
        id: String, orgID: String?, executor: ExecutorSpec,
        defaultConfig: JobConfigOverrides, environment: [EnvironmentVariable] = [],
        taskTimeoutMinutes: Double = JobType.defaultTaskTimeoutMinutes, createdAt: Date
    ) {
        self.environment = environment
        self.taskTimeoutMinutes = taskTimeoutMinutes
        self.id = id
        self.orgID = orgID
        self.executor = executor
        self.defaultConfig = defaultConfig
        self.createdAt = createdAt
    }

    /// Whether `org` may see and use this job type.
    public func isVisible(to org: String) -> Bool {
        orgID == nil || orgID == org
    }
}
