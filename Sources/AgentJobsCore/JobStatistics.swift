import Foundation

/// An organization's figures for the dashboard's overview (`GET /services/agent-jobs/stats`):
/// its jobs by status, jobs created and finished in each minute of the last hour, and the
/// due → start lag and duration of its recent tasks.
public struct JobStatistics: Sendable, Hashable {
    /// The minutes `minutes` covers: the current one and the 59 before it.
    public static let minuteCount = 60
    /// The most jobs whose tasks the percentiles are taken over (the most recently updated).
    public static let taskSampleJobs = 2_000

    public var generatedAt: Date
    /// The start of the first minute of `minutes`.
    public var since: Date
    /// Every status, with 0 for those no job has.
    public var counts: [JobStatus: Int]
    /// Oldest first, `minuteCount` entries.
    public var minutes: [MinuteActivity]
    /// Tasks started since `since`: their start minus the instant they were due.
    public var dueToStart: DurationSummary
    /// Tasks finished since `since`: their finish minus their start.
    public var taskDuration: DurationSummary

    public init(
        generatedAt: Date, since: Date, counts: [JobStatus: Int], minutes: [MinuteActivity],
        dueToStart: DurationSummary, taskDuration: DurationSummary
    ) {
        self.generatedAt = generatedAt
        self.since = since
        self.counts = counts
        self.minutes = minutes
        self.dueToStart = dueToStart
        self.taskDuration = taskDuration
    }

    /// The window's first minute as a number of minutes since 1970 (a store's `millis / 60000`).
    public static func firstMinute(now: Date) -> Int64 {
        Timestamp.millis(now) / 60_000 - Int64(minuteCount - 1)
    }

    /// Assembles the figures from what a store read: counts by status, jobs created and
    /// finished per minute (keyed by minutes since 1970), and the recent tasks' times.
    public static func assemble(
        now: Date, counts: [JobStatus: Int], createdPerMinute: [Int64: Int], finishedPerMinute: [Int64: Int],
        tasks: [TaskTimes]
    ) -> JobStatistics {
        let first = firstMinute(now: now)
        let since = Timestamp.date(millis: first * 60_000)
        var allCounts: [JobStatus: Int] = [:]
        for status in JobStatus.allCases { allCounts[status] = counts[status] ?? 0 }
        let minutes = (0..<Int64(minuteCount)).map { offset in
            MinuteActivity(
                minute: Timestamp.date(millis: (first + offset) * 60_000),
                created: createdPerMinute[first + offset] ?? 0, finished: finishedPerMinute[first + offset] ?? 0)
        }
        let lags = tasks.compactMap { task -> Int64? in
            guard let due = task.dueAt, task.startedAt >= since else { return nil }
            return max(0, Timestamp.millis(task.startedAt) - Timestamp.millis(due))
        }
        let durations = tasks.compactMap { task -> Int64? in
            guard let finished = task.finishedAt, finished >= since else { return nil }
            return max(0, Timestamp.millis(finished) - Timestamp.millis(task.startedAt))
        }
        return JobStatistics(
            generatedAt: now, since: since, counts: allCounts, minutes: minutes,
            dueToStart: DurationSummary(millis: lags), taskDuration: DurationSummary(millis: durations))
    }
}

/// Jobs created and finished (become COMPLETED, FAILED or CANCELED) within one minute.
public struct MinuteActivity: Sendable, Hashable {
    public var minute: Date
    public var created: Int
    public var finished: Int

    public init(minute: Date, created: Int, finished: Int) {
        self.minute = minute
        self.created = created
        self.finished = finished
    }
}

/// The times of one task that `JobStatistics` reads.
public struct TaskTimes: Sendable, Hashable {
    public var dueAt: Date?
    public var startedAt: Date
    public var finishedAt: Date?

    public init(dueAt: Date?, startedAt: Date, finishedAt: Date?) {
        self.dueAt = dueAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
    }
}

/// Percentiles of a set of durations, in milliseconds (nearest rank); `nil` without samples.
public struct DurationSummary: Sendable, Hashable {
    public var samples: Int
    public var p50: Int64?
    public var p90: Int64?
    public var p99: Int64?
    public var max: Int64?

    public init(millis: [Int64]) {
        let sorted = millis.sorted()
        samples = sorted.count
        func rank(_ fraction: Double) -> Int64? {
            guard !sorted.isEmpty else { return nil }
            let index = Int((fraction * Double(sorted.count)).rounded(.up)) - 1
            return sorted[Swift.max(0, Swift.min(sorted.count - 1, index))]
        }
        p50 = rank(0.5)
        p90 = rank(0.9)
        p99 = rank(0.99)
        max = sorted.last
    }
}
