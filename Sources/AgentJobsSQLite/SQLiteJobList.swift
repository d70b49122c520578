import AgentJobsCore
import GRDB

/// Translates a `JobQuery` into SQL over the `jobs` table and its indexes.
struct SQLiteJobList {
    var query: JobQuery

    func run(_ db: Database) throws -> JobPage {
        var conditions = ["org_id = ?"]
        var arguments: [any DatabaseValueConvertible] = [query.orgID]
        if !query.statuses.isEmpty {
            conditions.append(
                "status IN (\(Array(repeating: "?", count: query.statuses.count).joined(separator: ",")))")
            arguments += query.statuses.map(\.rawValue)
        }
        for (column, range) in [("scheduled_at", query.scheduledAt), ("created_at", query.createdAt)] {
            if let from = range.from {
                conditions.append("\(column) >= ?")
                arguments.append(Timestamp.millis(from))
            }
            if let to = range.to {
                conditions.append("\(column) <= ?")
                arguments.append(Timestamp.millis(to))
            }
        }
        if let jobTypeID = query.jobTypeID {
            conditions.append("job_type_id = ?")
            arguments.append(jobTypeID)
        }
        if let channelCode = query.channelCode {
            conditions.append("channel_code = ?")
            arguments.append(channelCode)
        }
        if let scheduleID = query.scheduleID {
            conditions.append("schedule_id = ?")
            arguments.append(scheduleID)
        }
        let whereClause = conditions.joined(separator: " AND ")
        // The total first: it is cheap (counts, or a capped count), and it tells the plan.
        let (total, exact) = try total(db, whereClause: whereClause, arguments: arguments)
        // Few matches: find them by the filter's index and sort them (`+column` keeps SQLite
        // from walking a sort index through every job of the org looking for them). Many:
        // walking the sort index finds a page of them at once.
        let few = exact && total <= Self.fewMatches
        let sort = query.sort.isEmpty ? SortKey.defaultOrder : query.sort
        var order = sort.map { "\(few ? "+" : "")\($0.field.column) \($0.direction == .asc ? "ASC" : "DESC")" }
        order.append("id \(sort.last?.direction == .desc ? "DESC" : "ASC")")
        var pageClause = whereClause
        var pageArguments = arguments
        if let after = query.after {
            let condition = after.condition
            pageClause += " AND " + condition.sql
            pageArguments += condition.arguments.map { value -> any DatabaseValueConvertible in
                switch value {
                case .millis(let millis): millis
                case .text(let text): text
                }
            }
        }

        let rows = try Row.fetchAll(
            db,
            sql: "SELECT * FROM jobs WHERE \(pageClause) ORDER BY \(order.joined(separator: ", ")) LIMIT ? OFFSET ?",
            arguments: StatementArguments(pageArguments + [query.limit, query.offset]))
        let jobs = try SQLiteJobStore.loadJobs(rows: rows, db)
        return JobPage(jobs: jobs, total: total, totalIsExact: exact)
    }

    /// Up to this many matches are sorted after the filter found them.
    static let fewMatches = 5_000

    /// Counts all matches. A filter on status, job type and channel is a sum over the
    /// `job_counts` rows the triggers keep; one with a time range or a schedule counts rows,
    /// up to `query.countLimit` (beyond it the total is that limit, marked inexact).
    private func total(
        _ db: Database, whereClause: String, arguments: [any DatabaseValueConvertible]
    ) throws
        -> (Int, Bool)
    {
        if query.isCountedByCounters {
            // The filter names only columns `job_counts` has (org, status, job type, channel).
            let sql = "SELECT COALESCE(SUM(count), 0) FROM job_counts WHERE " + whereClause
            return (try Int.fetchOne(db, sql: sql, arguments: StatementArguments(arguments)) ?? 0, true)
        }
        let counted =
            try Int.fetchOne(
                db, sql: "SELECT COUNT(*) FROM (SELECT 1 FROM jobs WHERE \(whereClause) LIMIT ?)",
                arguments: StatementArguments(arguments + [query.countLimit + 1])) ?? 0
        return counted > query.countLimit ? (query.countLimit, false) : (counted, true)
    }
}
