import AgentJobsCore
import Logging
import PostgresNIO

/// Translates a `JobQuery` into SQL over the `jobs` table and its indexes.
struct PostgresJobList {
    var query: JobQuery

    /// Appends ` WHERE …` for the query's filter, with `statuses` as its status condition
    /// (`= ANY` of several, `=` of one: only the latter lets an index give the sort order).
    private func appendFilter(_ sql: inout SQLBuilder, statuses: [String]) throws {
        sql.append(" WHERE org_id = ")
        try sql.bind(query.orgID)
        if statuses.count == 1 {
            sql.append(" AND status = ")
            try sql.bind(statuses[0])
        } else if !statuses.isEmpty {
            sql.append(" AND status = ANY(")
            try sql.bind(statuses)
            sql.append(")")
        }
        for (column, range) in [("scheduled_at", query.scheduledAt), ("created_at", query.createdAt)] {
            if let from = range.from {
                sql.append(" AND \(column) >= ")
                try sql.bind(Timestamp.millis(from))
            }
            if let to = range.to {
                sql.append(" AND \(column) <= ")
                try sql.bind(Timestamp.millis(to))
            }
        }
        if let jobTypeID = query.jobTypeID {
            sql.append(" AND job_type_id = ")
            try sql.bind(jobTypeID)
        }
        if let channelCode = query.channelCode {
            sql.append(" AND channel_code = ")
            try sql.bind(channelCode)
        }
        if let scheduleID = query.scheduleID {
            sql.append(" AND schedule_id = ")
            try sql.bind(scheduleID)
        }
        if let after = query.after {
            let condition = after.condition
            let pieces = condition.sql.split(separator: "?", omittingEmptySubsequences: false)
            sql.append(" AND ")
            for (index, piece) in pieces.enumerated() {
                sql.append(String(piece))
                guard index < condition.arguments.count else { continue }
                switch condition.arguments[index] {
                case .millis(let millis): try sql.bind(millis)
                case .text(let text): try sql.bind(text)
                }
            }
        }
    }

    /// The page: one ordered scan; with several statuses, one per status (each an index walk
    /// in the sort order, cut at offset + limit) merged, since `status = ANY(…)` would sort
    /// every match. With `reversed`, the same in the opposite order at its offset and limit
    /// (a deep page read from the other end; the caller turns the rows around). From
    /// `JobQuery.deepOffset`, the single scan selects the page's ids first.
    private func pageQuery(reversed: ReversedPage? = nil) throws -> SQLBuilder {
        let sort = query.sort.isEmpty ? SortKey.defaultOrder : query.sort
        let flip = reversed != nil
        var order = sort.map { "\($0.field.column) \(($0.direction == .asc) != flip ? "ASC" : "DESC")" }
        order.append("id \((sort.last?.direction == .desc) != flip ? "DESC" : "ASC")")
        let limit = reversed?.limit ?? query.limit
        let offset = reversed?.offset ?? query.offset
        let orderBy = " ORDER BY \(order.joined(separator: ", "))"
        let statuses = query.statuses.map(\.rawValue)
        var page = SQLBuilder("SELECT * FROM ")
        if statuses.count > 1 {
            page.append("(")
            for (index, status) in statuses.enumerated() {
                page.append(index == 0 ? "(SELECT * FROM jobs" : " UNION ALL (SELECT * FROM jobs")
                try appendFilter(&page, statuses: [status])
                page.append(orderBy + " LIMIT ")
                try page.bind(Int64(limit + offset))
                page.append(")")
            }
            page.append(") AS matches")
        } else if offset >= query.deepOffset {
            // A deep page steps over its offset in the index alone (an index-only scan of the
            // ids, no heap row fetched for the rows skipped), then reads its own rows by id.
            page.append("jobs WHERE id = ANY(ARRAY(SELECT id FROM jobs")
            try appendFilter(&page, statuses: statuses)
            try appendSlice(&page, orderBy: orderBy, limit: limit, offset: offset)
            page.append("))" + orderBy)
            return page
        } else {
            page.append("jobs")
            try appendFilter(&page, statuses: statuses)
        }
        try appendSlice(&page, orderBy: orderBy, limit: limit, offset: offset)
        return page
    }

    /// Appends ` ORDER BY … LIMIT … OFFSET …`.
    private func appendSlice(_ sql: inout SQLBuilder, orderBy: String, limit: Int, offset: Int) throws {
        sql.append(orderBy + " LIMIT ")
        try sql.bind(Int64(limit))
        sql.append(" OFFSET ")
        try sql.bind(Int64(offset))
    }

    /// The page of a `GroupedPage` sort: group sizes from the counts (and their pending
    /// deltas), then one query per group the page touches, ordered by the second field (the
    /// planner picks the (field, created_at) index or the time's own index).
    private func groupedPage(
        field: SortField, _ connection: PostgresConnection, logger: Logger
    ) async throws -> [PostgresRandomAccessRow] {
        let column = field.column
        let statuses = query.statuses.map(\.rawValue)
        var filter = SQLBuilder()
        try appendFilter(&filter, statuses: statuses)
        let groupOrder = query.sort[0].direction == .asc ? "ASC" : "DESC"
        let timeOrder = query.sort[1].direction == .asc ? "ASC" : "DESC"
        let groupsSQL = """
            SELECT value, SUM(n)::bigint AS n FROM (
                SELECT \(column) AS value, count AS n FROM job_counts\(filter.sql)
                UNION ALL SELECT \(column) AS value, delta AS n FROM job_count_deltas\(filter.sql)
            ) AS counted GROUP BY value ORDER BY value \(groupOrder)
            """
        let groups = try await PostgresRows.all(
            connection.query(PostgresQuery(unsafeSQL: groupsSQL, binds: filter.binds), logger: logger)
        ).map { (value: try $0.string("value"), count: Int(try $0.int64("n"))) }
        var rows: [PostgresRandomAccessRow] = []
        for slice in GroupedPage.plan(groups: groups, offset: query.offset, limit: query.limit) {
            var page = SQLBuilder("SELECT * FROM jobs")
            try appendFilter(&page, statuses: statuses)
            page.append(" AND \(column) = ")
            try page.bind(slice.value)
            page.append(" ORDER BY \(query.sort[1].field.column) \(timeOrder), id \(timeOrder) LIMIT ")
            try page.bind(Int64(slice.limit))
            page.append(" OFFSET ")
            try page.bind(Int64(slice.offset))
            rows += try await PostgresRows.all(connection.query(page.query, logger: logger))
        }
        return rows
    }

    /// Whether `run` wants a repeatable-read transaction around it (`JobQuery.deepOffset`).
    var wantsSnapshot: Bool { query.after == nil && query.offset >= query.deepOffset }

    /// Reads the page and its total; `inSnapshot`: both statements see one snapshot (a
    /// repeatable-read transaction), so a deep page may be read from the other end.
    func run(_ connection: PostgresConnection, logger: Logger, inSnapshot: Bool = false) async throws -> JobPage {
        // The total's filter leaves out the cursor: it counts all matches.
        var filter = SQLBuilder()
        var unpaged = self
        unpaged.query.after = nil
        try unpaged.appendFilter(&filter, statuses: query.statuses.map(\.rawValue))
        // The total first: with an exact one, a deep page is read from the other end.
        let (total, exact) = try await total(filter, connection, logger: logger)
        let rows: [PostgresRandomAccessRow]
        if query.pageIsPastLastMatch(total: total, exact: exact) {
            rows = []
        } else if let field = GroupedPage.leadingField(of: query) {
            rows = try await groupedPage(field: field, connection, logger: logger)
        } else if inSnapshot, let reversed = query.reversedPage(total: total, exact: exact) {
            rows = try await PostgresRows.all(
                connection.query(try pageQuery(reversed: reversed).query, logger: logger)
            ).reversed()
        } else {
            rows = try await PostgresRows.all(connection.query(try pageQuery().query, logger: logger))
        }
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
            binds.append(Int64(query.countLimit + 1))
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
