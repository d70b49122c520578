import AgentJobsCore

/// Runs one task and reports its outcome. Implementations must stop promptly when the
/// calling Swift task is cancelled (cancel, deadline, shutdown): kill the program, abort
/// the request.
public protocol TaskExecutor: Sendable {
    func run(_ task: ClaimedTask) async -> TaskOutcome
}

/// Executors by kind (`command`, `http`, `demo`), as job types name them.
public struct ExecutorRegistry: Sendable {
    private var executors: [ExecutorSpec.Kind: any TaskExecutor] = [:]

    public init() {}

    public mutating func register(_ kind: ExecutorSpec.Kind, _ executor: any TaskExecutor) {
        executors[kind] = executor
    }

    /// The executor for a job type's spec.
    public func executor(for spec: ExecutorSpec) -> (any TaskExecutor)? {
        executors[spec.kind]
    }
}
