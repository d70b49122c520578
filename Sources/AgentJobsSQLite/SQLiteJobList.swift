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
        let sort = query.sort.isEmpty ? SortKey.defaultOrder : query.sort
        var order = sort.map { "\($0.field.column) \($0.direction == .asc ? "ASC" : "DESC")" }
        order.append("id \(sort.last?.direction == .desc ? "DESC" : "ASC")")

        let rows = try Row.fetchAll(
            db,
            sql: "SELECT * FROM jobs WHERE \(whereClause) ORDER BY \(order.joined(separator: ", ")) LIMIT ? OFFSET ?",
            arguments: StatementArguments(arguments + [query.limit, query.offset]))
        let jobs = try SQLiteJobStore.loadJobs(rows: rows, db)
        return JobPage(jobs: jobs, total: try total(db, whereClause: whereClause, arguments: arguments))
    }

    /// Counts all matches; a filter on org and status alone is answered from `job_counts`.
    private func total(_ db: Database, whereClause: String, arguments: [any DatabaseValueConvertible]) throws -> Int {
        let onlyStatusFilter =
            query.scheduledAt.isUnbounded && query.createdAt.isUnbounded
            && query.jobTypeID == nil && query.channelCode == nil && query.scheduleID == nil
        if onlyStatusFilter {
            var sql = "SELECT COALESCE(SUM(count), 0) FROM job_counts WHERE org_id = ?"
            var countArguments: [any DatabaseValueConvertible] = [query.orgID]
            if !query.statuses.isEmpty {
                sql += " AND status IN (\(Array(repeating: "?", count: query.statuses.count).joined(separator: ",")))"
                countArguments += query.statuses.map(\.rawValue)
            }
            return try Int.fetchOne(db, sql: sql, arguments: StatementArguments(countArguments)) ?? 0
        }
        return try Int.fetchOne(
            db, sql: "SELECT COUNT(*) FROM jobs WHERE \(whereClause)", arguments: StatementArguments(arguments)) ?? 0
    }
}
