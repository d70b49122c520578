import Foundation

/// The JSON document an executor receives for one task (CONTRACT §4).
public struct TaskDocument: Sendable, Hashable, Codable {
    /// An earlier task of the same job.
    public struct PreviousTask: Sendable, Hashable, Codable {
        public var taskID: String
        public var kind: TaskKind
        public var attempt: Int
        public var status: TaskStatus
        public var result: String?
        public var error: String?

        enum CodingKeys: String, CodingKey {
            case taskID = "task_id"
            case kind, attempt, status, result, error
        }
    }

    public var jobID: String
    public var taskID: String
    public var kind: TaskKind
    public var attempt: Int
    public var orgID: String
    public var jobTypeID: String
    public var targetChannel: TargetChannel
    public var config: JobConfig
    public var params: JSONObject
    public var previousTasks: [PreviousTask]

    enum CodingKeys: String, CodingKey {
        case jobID = "job_id"
        case taskID = "task_id"
        case kind, attempt
        case orgID = "org_id"
        case jobTypeID = "job_type_id"
        case targetChannel = "target_channel"
        case config, params
        case previousTasks = "previous_tasks"
    }

    /// The document for `task` of `job` (whose `tasks` are the earlier ones).
    public init(job: Job, task: JobTask) {
        jobID = job.id
        taskID = task.id
        kind = task.kind
        attempt = task.attempt
        orgID = job.orgID
        jobTypeID = job.jobTypeID
        targetChannel = job.targetChannel
        config = job.config
        params = job.params
        previousTasks = job.tasks.filter { $0.id != task.id }.map {
            PreviousTask(
                taskID: $0.id, kind: $0.kind, attempt: $0.attempt, status: $0.status,
                result: $0.result, error: $0.error)
        }
    }

    /// Compact JSON with sorted keys: the exact bytes sent (and signed).
    public func encoded() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(self)) ?? Data("{}".utf8)
    }
}
