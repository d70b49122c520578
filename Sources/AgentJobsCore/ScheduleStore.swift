import Foundation

/// A field the schedule list can be sorted by.
public enum ScheduleSortField: String, Sendable, Hashable, CaseIterable {
    case createdAt = "created_at"
    case nextRunAt = "next_run_at"
    case name

    /// The `schedules` column, in every store's schema.
    public var column: String { rawValue }
}

/// What to list of an org's schedules.
public struct ScheduleQuery: Sendable, Hashable {
    public var orgID: String
    public var paused: Bool?
    public var jobTypeID: String?
    public var limit: Int
    public var offset: Int
    public var sortField: ScheduleSortField
    public var direction: SortDirection

    public init(
        orgID: String, paused: Bool? = nil, jobTypeID: String? = nil, limit: Int = 20, offset: Int = 0,
        sortField: ScheduleSortField = .createdAt, direction: SortDirection = .desc
    ) {
        self.orgID = orgID
        self.paused = paused
        self.jobTypeID = jobTypeID
        self.limit = limit
        self.offset = offset
        self.sortField = sortField
        self.direction = direction
    }

    /// `next_run_at:asc`, `name`, … — one field, direction `asc` unless given (default
    /// `created_at:desc`).
    public static func parseSort(_ text: String) throws(AgentJobsError) -> (ScheduleSortField, SortDirection) {
        let pieces = text.split(separator: ":", omittingEmptySubsequences: false)
        guard pieces.count <= 2, let field = ScheduleSortField(rawValue: String(pieces[0])) else {
            let allowed = ScheduleSortField.allCases.map(\.rawValue).joined(separator: ", ")
            throw .badRequest("sort: unknown field '\(pieces.first ?? "")' (allowed: \(allowed))")
        }
        guard pieces.count == 2 else { return (field, .asc) }
        guard let direction = SortDirection(rawValue: String(pieces[1])) else {
            throw .badRequest("sort: unknown direction '\(pieces[1])' for \(field.rawValue) (allowed: asc, desc)")
        }
        return (field, direction)
    }
}

/// One page of schedules.
public struct SchedulePage: Sendable {
    public var schedules: [Schedule]
    public var total: Int

    public init(schedules: [Schedule], total: Int) {
        self.schedules = schedules
        self.total = total
    }
}

/// Storage for schedules and the firing of due ones.
/// What a schedule create did.
public enum CreateScheduleOutcome: Sendable {
    case created(Schedule)
    /// The same `Idempotency-Key` and body were seen before: the first schedule.
    case replayed(Schedule)
}

public protocol ScheduleStore: Sendable {
    /// Stores a schedule, or with a claim that was seen before returns the first one
    /// (`.conflict` when the key was used with a different body).
    func createSchedule(_ schedule: Schedule, idempotency: IdempotencyClaim?) async throws -> CreateScheduleOutcome
    func schedule(id: String) async throws -> Schedule?
    func listSchedules(_ query: ScheduleQuery) async throws -> SchedulePage
    /// Writes what a client may change (name, cron, timezone, job, delay, overlap, paused,
    /// next_run_at, updated_at), leaving the counters the firing keeps; false when gone.
    func updateSchedule(_ schedule: Schedule) async throws -> Bool
    /// Deletes the schedule (its jobs stay); false when there is none.
    func deleteSchedule(id: String) async throws -> Bool
}
