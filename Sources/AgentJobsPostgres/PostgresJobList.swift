import AgentJobsCore
import Logging
import PostgresNIO

/// Translates a `JobQuery` into SQL over the `jobs` table and its indexes.
struct PostgresJobList {
    var query: JobQuery

    func run(_ connection: PostgresConnection, logger: Logger) async throws -> JobPage {
        var filter = SQLBuilder(" WHERE org_id = ")
        try filter.bind(query.orgID)
        if !query.statuses.isEmpty {
            filter.append(" AND status = ANY(")
            try filter.bind(query.statuses.map(\.rawValue))
            filter.append(")")
        }
        for (column, range) in [("scheduled_at", query.scheduledAt), ("created_at", query.createdAt)] {
            if let from = range.from {
                filter.append(" AND \(column) >= ")
                try filter.bind(Timestamp.millis(from))
            }
            if let to = range.to {
                filter.append(" AND \(column) <= ")
                try filter.bind(Timestamp.millis(to))
            }
        }
        if let jobTypeID = query.jobTypeID {
            filter.append(" AND job_type_id = ")
            try filter.bind(jobTypeID)
        }
        if let channelCode = query.channelCode {
            filter.append(" AND channel_code = ")
            try filter.bind(channelCode)
        }
        if let scheduleID = query.scheduleID {
            filter.append(" AND schedule_id = ")
            try filter.bind(scheduleID)
        }
        let sort = query.sort.isEmpty ? SortKey.defaultOrder : query.sort
        var order = sort.map { "\($0.field.column) \($0.direction == .asc ? "ASC" : "DESC")" }
        order.append("id \(sort.last?.direction == .desc ? "DESC" : "ASC")")

        var page = filter
        if let after = query.after {
            let condition = after.condition
            let pieces = condition.sql.split(separator: "?", omittingEmptySubsequences: false)
            page.append(" AND ")
            for (index, piece) in pieces.enumerated() {
                page.append(String(piece))
                guard index < condition.arguments.count else { continue }
                switch condition.arguments[index] {
                case .millis(let millis): try page.bind(millis)
                case .text(let text): try page.bind(text)
                }
            }
        }
        page.append(" ORDER BY \(order.joined(separator: ", ")) LIMIT ")
        try page.bind(Int64(query.limit))
        page.append(" OFFSET ")
        try page.bind(Int64(query.offset))
        let rows = try await PostgresRows.all(
            connection.query(
                PostgresQuery(unsafeSQL: "SELECT * FROM jobs" + page.sql, binds: page.binds), logger: logger))
        let ids = try rows.map { try $0.string("id") }
        var tasksByJob: [String: [JobTask]] = [:]
        if !ids.isEmpty {
            for row in try await PostgresRows.all(
                connection.query(
                    "SELECT * FROM tasks WHERE job_id = ANY(\(ids)) ORDER BY job_id, attempt", logger: logger))
            {
                let task = try PostgresRows.task(row)
                tasksByJob[task.jobID, default: []].append(task)
            }
        }
        let jobs = try rows.map { try PostgresRows.job($0, tasks: tasksByJob[try $0.string("id")] ?? []) }
        let (total, exact) = try await total(filter, connection, logger: logger)
        return JobPage(jobs: jobs, total: total, totalIsExact: exact)
    }

    /// Counts all matches. A filter on status, job type and channel is a sum over the counts
    /// and their pending deltas; one with a time range or a schedule counts rows, up to
    /// `JobQuery.countLimit` (beyond it the total is that limit, marked inexact).
    private func total(
        _ filter: SQLBuilder, _ connection: PostgresConnection, logger: Logger
    ) async throws -> (Int, Bool) {
        guard query.isCountedByCounters else {
            var binds = filter.binds
            try binds.append(Int64(query.countLimit + 1))
            let sql = "SELECT COUNT(*) FROM (SELECT 1 FROM jobs\(filter.sql) LIMIT $\(binds.count)) AS matches"
            let count =
                try await connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger)
                .collect().first?.decode(Int64.self) ?? 0
            return count > query.countLimit ? (query.countLimit, false) : (Int(count), true)
        }
        // The filter names only columns the counts have (org, status, job type, channel).
        let sql = """
            SELECT COALESCE(SUM(n), 0)::bigint FROM (
                SELECT count AS n FROM job_counts\(filter.sql)
                UNION ALL SELECT delta AS n FROM job_count_deltas\(filter.sql)
            ) AS counted
            """
        let count =
            try await connection.query(PostgresQuery(unsafeSQL: sql, binds: filter.binds), logger: logger)
            .collect().first?.decode(Int64.self) ?? 0
        return (Int(count), true)
    }
}
