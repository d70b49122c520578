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
        let total =
            try await connection.query(
                PostgresQuery(unsafeSQL: "SELECT COUNT(*) FROM jobs" + filter.sql, binds: filter.binds), logger: logger
            ).collect().first?.decode(Int64.self) ?? 0
        return JobPage(jobs: jobs, total: Int(total))
    }
}
