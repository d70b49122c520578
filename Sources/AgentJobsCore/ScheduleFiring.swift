import Foundation

/// What one due schedule does now: the job to create (if any), and the schedule's new
/// counters and next occurrence. Pure: each store reads the schedule, asks for the plan and
/// applies it in one transaction with the job's insert.
public struct ScheduleFiring: Sendable, Hashable {
    /// The occurrence this firing stands for (the most recent one due).
    public var occurrence: Date
    /// The job to insert, or nil (overlap `skip` while the previous job runs, or no job type).
    public var job: NewJob?
    /// Occurrences that created nothing this time (older missed ones, and this one if skipped).
    public var skippedAdded: Int
    /// The next occurrence after now.
    public var nextRunAt: Date?

    /// At most this many missed occurrences are counted one by one after downtime.
    public static let maxCountedMisses = 100_000

    /// Plans the firing of `schedule`, due at `now`.
    /// - Parameters:
    ///   - previousJobActive: the last job it created has not ended (matters for overlap `skip`).
    ///   - jobType: the job type of `schedule.job`, nil when it no longer exists.
    ///   - jitter: a value in 0…1 that picks the random delay.
    public static func plan(
        _ schedule: Schedule, now: Date, previousJobActive: Bool, jobType: JobType?, jobID: String, jitter: Double
    ) -> ScheduleFiring? {
        guard let due = schedule.nextRunAt, due <= now, !schedule.paused, let rule = schedule.rule else { return nil }
        // After downtime: the most recent occurrence due stands for all; the older ones are skipped.
        var occurrence = due
        var missed = 0
        while missed < maxCountedMisses, let later = rule.next(after: occurrence), later <= now {
            occurrence = later
            missed += 1
        }
        var next = rule.next(after: occurrence)
        if let found = next, found <= now { next = rule.next(after: now) }  // Past the counting cap.
        var firing = ScheduleFiring(occurrence: occurrence, job: nil, skippedAdded: missed, nextRunAt: next)
        guard let jobType, !(schedule.overlap == .skip && previousJobActive) else {
            firing.skippedAdded += 1
            return firing
        }
        var submission = schedule.job
        submission.scheduledAt = occurrence
        submission.delayMinutes = schedule.delayMinutes
        var job = submission.makeJob(id: jobID, jobType: jobType, now: now, jitter: jitter)
        job.scheduleID = schedule.id
        job.scheduleOccurrence = occurrence
        firing.job = job
        return firing
    }

    /// The schedule after this firing.
    public func applied(to schedule: Schedule, now: Date) -> Schedule {
        var updated = schedule
        updated.nextRunAt = nextRunAt
        updated.skipped += skippedAdded
        if let job {
            updated.runs += 1
            updated.lastRunAt = occurrence
            updated.lastJobID = job.id
        }
        updated.updatedAt = now
        return updated
    }
}
