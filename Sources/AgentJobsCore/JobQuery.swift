import Foundation

/// A field the job list can be sorted by.
public enum SortField: String, Sendable, Hashable, CaseIterable, Codable {
    case createdAt = "created_at"
    case updatedAt = "updated_at"
    case scheduledAt = "scheduled_at"
    case jobStatus = "job_status"
    case jobTypeID = "job_type_id"
    case channelCode = "channel_code"

    /// The `jobs` column the field sorts by, in every store's schema.
    public var column: String {
        self == .jobStatus ? "status" : rawValue
    }
}

/// A sort direction.
public enum SortDirection: String, Sendable, Hashable, CaseIterable, Codable {
    case asc
    case desc
}

/// One key of a multi-key sort.
public struct SortKey: Sendable, Hashable {
    public var field: SortField
    public var direction: SortDirection

    public init(_ field: SortField, _ direction: SortDirection) {
        self.field = field
        self.direction = direction
    }

    /// The default order: newest first.
    public static let defaultOrder = [SortKey(.createdAt, .desc)]
}

/// An inclusive time range; either end may be open.
public struct TimeRange: Sendable, Hashable {
    public var from: Date?
    public var to: Date?

    public init(from: Date? = nil, to: Date? = nil) {
        self.from = from
        self.to = to
    }

    public var isUnbounded: Bool { from == nil && to == nil }

    /// Whether `date` lies in the range (compared at millisecond precision, as stored).
    public func contains(_ date: Date) -> Bool {
        let value = Timestamp.millis(date)
        if let from, value < Timestamp.millis(from) { return false }
        if let to, value > Timestamp.millis(to) { return false }
        return true
    }
}

/// What to list: always confined to one org, then filtered, sorted and paged.
///
/// Ties in the sort are broken by `job_id`, in the direction of the last sort key.
public struct JobQuery: Sendable, Hashable {
    public var orgID: String
    /// Empty means any status.
    public var statuses: [JobStatus]
    public var scheduledAt: TimeRange
    public var createdAt: TimeRange
    public var jobTypeID: String?
    public var channelCode: String?
    /// Only jobs this schedule created.
    public var scheduleID: String?
    public var limit: Int
    public var offset: Int
    public var sort: [SortKey]
    /// Only jobs after this one in the sort order (a keyset cursor; `offset` then counts from it).
    public var after: ListCursor?
    /// The most matches counted one by one for the total (see `JobPage.totalIsExact`).
    public var countLimit = JobPage.defaultCountLimit
    /// Up to this many matches, a store may find them by the filter's index and sort them
    /// rather than walk a sort index (a planning threshold; tests lower it).
    public var fewMatches = 5_000
    /// From this offset a store may read the page and its total in one snapshot, so that a
    /// page past the middle is read from the other end (`ReversedPage`; a planning threshold,
    /// tests lower it: below it stepping over the rows costs less than the snapshot).
    public var deepOffset = 1_000

    /// Whether the stores' per-(org, status, job type, channel) counts answer the total: no
    /// time range and no schedule in the filter.
    public var isCountedByCounters: Bool {
        scheduledAt.isUnbounded && createdAt.isUnbounded && scheduleID == nil
    }

    public static let defaultLimit = 20
    public static let maxLimit = 200
    /// The largest `offset` accepted (a 32-bit bound every database handles).
    public static let maxOffset = 2_147_483_646

    public init(
        orgID: String, statuses: [JobStatus] = [], scheduledAt: TimeRange = .init(),
        createdAt: TimeRange = .init(), jobTypeID: String? = nil, channelCode: String? = nil,
        scheduleID: String? = nil, limit: Int = JobQuery.defaultLimit, offset: Int = 0,
        sort: [SortKey] = SortKey.defaultOrder
    ) {
        self.orgID = orgID
        self.scheduleID = scheduleID
        self.statuses = statuses
        self.scheduledAt = scheduledAt
        self.createdAt = createdAt
        self.jobTypeID = jobTypeID
        self.channelCode = channelCode
        self.limit = limit
        self.offset = offset
        self.sort = sort
    }
}

/// One page of a job list.
public struct JobPage: Sendable {
    public var jobs: [Job]
    /// All matches, not just this page (nor only those after a cursor); the query's
    /// `countLimit` when `totalIsExact` is false.
    public var total: Int
    /// False when a filter the stores count row by row (a time range, a schedule) matched more
    /// than the query's `countLimit` jobs: `total` is then that limit.
    public var totalIsExact: Bool

    /// The most matches counted one by one, by default (counting more made a list with a
    /// broad time range take longer than 20 ms at a million jobs).
    public static let defaultCountLimit = 10_000

    public init(jobs: [Job], total: Int, totalIsExact: Bool = true) {
        self.jobs = jobs
        self.total = total
        self.totalIsExact = totalIsExact
    }
}

/// Parses the list endpoint's query parameters into a `JobQuery`.
public enum JobQueryParser {
    /// The raw parameters as they arrived (timestamps already parsed).
    public struct Parameters: Sendable {
        public var status: String?
        public var scheduledAt: Date?
        public var scheduledAtGte: Date?
        public var scheduledAtLte: Date?
        public var createdAtGte: Date?
        public var createdAtLte: Date?
        public var jobTypeID: String?
        public var channelCode: String?
        public var scheduleID: String?
        public var limit: Int64?
        public var offset: Int64?
        public var sort: String?
        /// A keyset cursor (`meta.next_after` of an earlier page).
        public var after: String?

        public init(
            status: String? = nil, scheduledAt: Date? = nil, scheduledAtGte: Date? = nil,
            scheduledAtLte: Date? = nil, createdAtGte: Date? = nil, createdAtLte: Date? = nil,
            jobTypeID: String? = nil, channelCode: String? = nil, limit: Int64? = nil,
            offset: Int64? = nil, sort: String? = nil, scheduleID: String? = nil, after: String? = nil
        ) {
            self.after = after
            self.scheduleID = scheduleID
            self.status = status
            self.scheduledAt = scheduledAt
            self.scheduledAtGte = scheduledAtGte
            self.scheduledAtLte = scheduledAtLte
            self.createdAtGte = createdAtGte
            self.createdAtLte = createdAtLte
            self.jobTypeID = jobTypeID
            self.channelCode = channelCode
            self.limit = limit
            self.offset = offset
            self.sort = sort
        }
    }

    /// Validates and converts; every failure names its parameter.
    public static func parse(_ parameters: Parameters, orgID: String) throws(AgentJobsError) -> JobQuery {
        var query = JobQuery(orgID: orgID)
        if let status = parameters.status {
            query.statuses = try parseStatuses(status)
        }
        if let exact = parameters.scheduledAt {
            query.scheduledAt = TimeRange(from: exact, to: exact)
        }
        if let gte = parameters.scheduledAtGte {
            query.scheduledAt.from = max(gte, query.scheduledAt.from ?? gte)
        }
        if let lte = parameters.scheduledAtLte {
            query.scheduledAt.to = min(lte, query.scheduledAt.to ?? lte)
        }
        query.createdAt = TimeRange(from: parameters.createdAtGte, to: parameters.createdAtLte)
        try TextRules.rejectNUL(parameters.jobTypeID, field: "job_type_id")
        try TextRules.rejectNUL(parameters.channelCode, field: "channel_code")
        query.jobTypeID = parameters.jobTypeID
        query.channelCode = parameters.channelCode
        try TextRules.rejectNUL(parameters.scheduleID, field: "schedule_id")
        query.scheduleID = parameters.scheduleID
        (query.limit, query.offset) = try page(limit: parameters.limit, offset: parameters.offset)
        if let sort = parameters.sort {
            query.sort = try parseSort(sort)
        }
        if let after = parameters.after {
            query.after = try ListCursor.decode(after, sort: query.sort.isEmpty ? SortKey.defaultOrder : query.sort)
        }
        return query
    }

    /// A list's `limit` (1…200, default 20) and `offset` (0…2,147,483,646, default 0), for
    /// every list of the API.
    public static func page(limit: Int64?, offset: Int64?) throws(AgentJobsError) -> (limit: Int, offset: Int) {
        if let limit, !(1...Int64(JobQuery.maxLimit)).contains(limit) {
            throw .badRequest("limit must be an integer between 1 and \(JobQuery.maxLimit)")
        }
        if let offset, !(0...Int64(JobQuery.maxOffset)).contains(offset) {
            throw .badRequest("offset must be an integer between 0 and \(JobQuery.maxOffset)")
        }
        return (limit.map { Int($0) } ?? JobQuery.defaultLimit, offset.map { Int($0) } ?? 0)
    }

    /// `WAITING` or `WAITING,RUNNING`; duplicates are folded.
    public static func parseStatuses(_ text: String) throws(AgentJobsError) -> [JobStatus] {
        var statuses: [JobStatus] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let name = String(part)
            guard let status = JobStatus(rawValue: name) else {
                let allowed = JobStatus.allCases.map(\.rawValue).joined(separator: ", ")
                throw .badRequest("status: unknown status '\(name)' (allowed: \(allowed))")
            }
            if !statuses.contains(status) { statuses.append(status) }
        }
        return statuses
    }

    /// `created_at:desc,job_status` — direction defaults to `asc`; a repeated field counts once
    /// (its first occurrence).
    public static func parseSort(_ text: String) throws(AgentJobsError) -> [SortKey] {
        var keys: [SortKey] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let pieces = part.split(separator: ":", omittingEmptySubsequences: false)
            guard pieces.count <= 2, let field = SortField(rawValue: String(pieces[0])) else {
                let allowed = SortField.allCases.map(\.rawValue).joined(separator: ", ")
                throw .badRequest("sort: unknown field '\(pieces.first ?? "")' (allowed: \(allowed))")
            }
            var direction = SortDirection.asc
            if pieces.count == 2 {
                guard let parsed = SortDirection(rawValue: String(pieces[1])) else {
                    throw .badRequest(
                        "sort: unknown direction '\(pieces[1])' for \(field.rawValue) (allowed: asc, desc)")
                }
                direction = parsed
            }
            // A field already sorted on cannot order rows further: a repeat is dropped.
            if !keys.contains(where: { $0.field == field }) { keys.append(SortKey(field, direction)) }
        }
        return keys
    }
}
