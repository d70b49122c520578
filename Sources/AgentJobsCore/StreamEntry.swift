import Foundation

/// One entry of a job's stream (`GET /services/agent-jobs/{job_id}/stream`), read from the
/// store's journal of the job: a status change of the job, a task's start or end, an event, a
/// progress report. Entry ids grow with every entry written; the entries of one job are
/// written under its row lock, so they commit in id order and a reader that resumes after an
/// id misses none.
public struct StreamEntry: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        /// The job changed to this status.
        case job(JobStatus)
        /// The task started (`RUNNING`) or ended in this status.
        case task(id: String, status: TaskStatus)
        case event(JobEvent)
        case progress(ProgressEntry)
    }

    public var id: Int64
    public var jobID: String
    public var kind: Kind
    public var createdAt: Date

    public init(id: Int64, jobID: String, kind: Kind, createdAt: Date) {
        self.id = id
        self.jobID = jobID
        self.kind = kind
        self.createdAt = createdAt
    }

    /// The entry's type as the stream names it.
    public var typeName: String {
        switch kind {
        case .job: "job"
        case .task: "task"
        case .event: "event"
        case .progress: "progress"
        }
    }

    /// Whether this entry is the job's last: its change to a terminal status.
    public var endsStream: Bool {
        if case .job(let status) = kind { return status.isTerminal }
        return false
    }
}

/// The journal rows a transition writes, in the order a stream shows them: the ended task, the
/// job's change of status, the started task.
public struct JournalRecord: Sendable, Hashable {
    public enum Kind: String, Sendable {
        case job, task, event, progress
    }

    public var jobID: String
    public var kind: Kind
    /// The task, event or progress entry; `nil` for a job entry.
    public var refID: String?
    /// The job's or task's status.
    public var status: String?
    public var at: Date

    public init(jobID: String, kind: Kind, refID: String?, status: String?, at: Date) {
        self.jobID = jobID
        self.kind = kind
        self.refID = refID
        self.status = status
        self.at = at
    }
}

extension JobTransition {
    /// What this transition adds to the job's journal.
    public var journal: [JournalRecord] {
        var records: [JournalRecord] = []
        if let ended = endedTask {
            records.append(
                JournalRecord(
                    jobID: jobID, kind: .task, refID: ended.taskID, status: ended.status.rawValue, at: ended.finishedAt)
            )
        }
        if statusChanged {
            records.append(
                JournalRecord(jobID: jobID, kind: .job, refID: nil, status: job.status.rawValue, at: job.updatedAt))
        }
        if let started = startedTask {
            records.append(
                JournalRecord(
                    jobID: jobID, kind: .task, refID: started.task.id, status: started.task.status.rawValue,
                    at: started.task.startedAt ?? started.task.createdAt))
        }
        return records
    }
}

/// Rebuilds how a job and its tasks looked at a stream entry, from the job as it stands now.
public enum JobHistory {
    /// The job as of `entry`: its status then, and only the tasks that had started by then,
    /// each as it stood then.
    public static func job(_ job: Job, at entry: StreamEntry, status: JobStatus) -> Job {
        var snapshot = job
        snapshot.status = status
        snapshot.updatedAt = entry.createdAt
        if !status.isTerminal {
            snapshot.result = nil
            snapshot.finishedAt = nil
            snapshot.cancelReason = nil
        }
        if status == .waiting || status == .scheduled { snapshot.startedAt = nil }
        snapshot.tasks = job.tasks.compactMap { task in
            guard (task.startedAt ?? task.createdAt) <= entry.createdAt else { return nil }
            if let finished = task.finishedAt, finished > entry.createdAt {
                return self.task(task, status: .running)
            }
            return task
        }
        if snapshot.status.isTerminal { snapshot.nextRunAt = nil }
        return snapshot
    }

    /// The task as it stood with `status`: a start shows the task running, with no end.
    public static func task(_ task: JobTask, status: TaskStatus) -> JobTask {
        guard status == .running, task.status != .running else { return task }
        var running = task
        running.status = .running
        running.finishedAt = nil
        running.result = nil
        running.error = nil
        return running
    }
}
