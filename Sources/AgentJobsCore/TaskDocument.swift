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
    /// The latest earlier tasks, oldest first: at most `maxPreviousTasks`, and at most
    /// `maxPreviousResultBytes` of their results and errors.
    public var previousTasks: [PreviousTask]
    /// Earlier tasks left out of `previousTasks` (the oldest ones).
    public var previousTasksOmitted: Int
    /// The events delivered to this task, oldest first (`[]` when none).
    public var events: [JobEvent] = []
    /// Where the task reports progress while it runs (`POST`, `Authorization: Bearer
    /// <progress_token>`).
    public var progressURL: String?
    /// The task's progress token, valid while the task is `RUNNING`.
    public var progressToken: String?

    /// The most earlier tasks a document carries.
    public static let maxPreviousTasks = 20
    /// The most bytes of earlier results and errors a document carries.
    public static let maxPreviousResultBytes = 256 * 1024

    enum CodingKeys: String, CodingKey {
        case jobID = "job_id"
        case taskID = "task_id"
        case kind, attempt
        case orgID = "org_id"
        case jobTypeID = "job_type_id"
        case targetChannel = "target_channel"
        case config, params
        case previousTasks = "previous_tasks"
        case previousTasksOmitted = "previous_tasks_omitted"
        case events
        case progressURL = "progress_url"
        case progressToken = "progress_token"
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
        let earlier = job.tasks.filter { $0.id != task.id }
        var kept: [PreviousTask] = []
        var bytes = 0
        for previous in earlier.reversed() where kept.count < Self.maxPreviousTasks {
            let size = (previous.result?.utf8.count ?? 0) + (previous.error?.utf8.count ?? 0)
            guard bytes + size <= Self.maxPreviousResultBytes else { break }
            bytes += size
            kept.append(
                PreviousTask(
                    taskID: previous.id, kind: previous.kind, attempt: previous.attempt, status: previous.status,
                    result: previous.result, error: previous.error))
        }
        previousTasks = kept.reversed()
        previousTasksOmitted = earlier.count - kept.count
    }

    /// Compact JSON with sorted keys: the exact bytes sent (and signed). Written by hand
    /// (`JSONWriter`): the same bytes as `JSONEncoder` with sorted keys and unescaped slashes
    /// (`TaskDocumentJSONTests` compares them), at a fraction of its cost for thousands of
    /// tasks starting at once.
    public func encoded() -> Data { Data(encodedBytes()) }

    /// `encoded()` as bytes.
    public func encodedBytes() -> [UInt8] {
        var json = JSONWriter(capacity: 1024)
        json.object { json in
            json.member("attempt", attempt, first: true)
            json.key("config")
            json.config(config)
            json.key("events")
            json.array(events) { $0.event($1) }
            json.member("job_id", jobID)
            json.member("job_type_id", jobTypeID)
            json.member("kind", kind.rawValue)
            json.member("org_id", orgID)
            json.member("params", params)
            json.key("previous_tasks")
            json.array(previousTasks) { $0.previousTask($1) }
            json.member("previous_tasks_omitted", previousTasksOmitted)
            if let progressToken { json.member("progress_token", progressToken) }
            if let progressURL { json.member("progress_url", progressURL) }
            json.key("target_channel")
            json.channel(targetChannel)
            json.member("task_id", taskID)
        }
        return json.bytes
    }
}

extension JSONWriter {
    /// An event as a task document and the API show it (`JobEvent`'s `Encodable` form).
    public mutating func event(_ event: JobEvent) {
        object { json in
            json.member("created_at", time: event.createdAt, first: true)
            json.key("data")
            json.value(event.data)
            json.member("delivered_to_task_id", event.deliveredToTaskID)
            json.member("event_id", event.id)
            json.member("job_id", event.jobID)
            json.member("type", event.type)
        }
    }

    /// An earlier task as a task document carries it (absent result and error left out).
    fileprivate mutating func previousTask(_ task: TaskDocument.PreviousTask) {
        object { json in
            json.member("attempt", task.attempt, first: true)
            if let error = task.error { json.member("error", error) }
            json.member("kind", task.kind.rawValue)
            if let result = task.result { json.member("result", result) }
            json.member("status", task.status.rawValue)
            json.member("task_id", task.taskID)
        }
    }
}
