import AgentJobsCore
import GRDB

/// Translates a `JobQuery` into SQL over the `jobs` table and its indexes.
struct SQLiteJobList {
    var query: JobQuery

    func run(_ db: Database) throws -> JobPage {
        var conditions = ["org_id = ?"]
        var arguments: [any DatabaseValueConvertible] = [query.orgID]
        // The equality filters whose index the plan may lead with: condition index, and the
        // filter alone as a `job_counts` condition (nil: no count, the schedule's).
        var equalities: [(condition: Int, counted: (sql: String, arguments: [any DatabaseValueConvertible])?)] = []
        if !query.statuses.isEmpty {
            let placeholders = Array(repeating: "?", count: query.statuses.count).joined(separator: ",")
            equalities.append((conditions.count, ("status IN (\(placeholders))", query.statuses.map(\.rawValue))))
            conditions.append("status IN (\(placeholders))")
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
            equalities.append((conditions.count, ("job_type_id = ?", [jobTypeID])))
            conditions.append("job_type_id = ?")
            arguments.append(jobTypeID)
        }
        if let channelCode = query.channelCode {
            equalities.append((conditions.count, ("channel_code = ?", [channelCode])))
            conditions.append("channel_code = ?")
            arguments.append(channelCode)
        }
        if let scheduleID = query.scheduleID {
            equalities.append((conditions.count, nil))
            conditions.append("schedule_id = ?")
            arguments.append(scheduleID)
        }
        let whereClause = conditions.joined(separator: " AND ")
        // The total first: it is cheap (counts, or a capped count), and it tells the plan.
        let (total, exact) = try total(db, whereClause: whereClause, arguments: arguments)
        // Few matches: find them by the filter's index and sort them (`+column` keeps SQLite
        // from walking a sort index through every job of the org looking for them). Many:
        // walking the sort index finds a page of them at once.
        let few = exact && total <= query.fewMatches
        let sort = query.sort.isEmpty ? SortKey.defaultOrder : query.sort
        var order = sort.map { "\(few ? "+" : "")\($0.field.column) \($0.direction == .asc ? "ASC" : "DESC")" }
        order.append("id \(sort.last?.direction == .desc ? "DESC" : "ASC")")
        if few, equalities.count > 1 {
            // Without statistics SQLite may lead with the index of a filter that matches every
            // job (job type `daily-report`) rather than the one that matches none (status
            // FAILED): the counts say which matches fewest, and a unary `+` keeps the others'
            // indexes out of the plan.
            let lead = try leastMatching(equalities, db)
            for equality in equalities where equality.condition != lead {
                conditions[equality.condition] = "+" + conditions[equality.condition]
            }
        }
        var pageClause = conditions.joined(separator: " AND ")
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

        let rows: [Row]
        if query.pageIsPastLastMatch(total: total, exact: exact) {
            rows = []
        } else if !few, let field = GroupedPage.leadingField(of: query) {
            // Every condition but the org's with a unary `+`, for walking a time's index.
            let walkClause = conditions.enumerated().map { $0.offset == 0 ? $0.element : "+" + $0.element }
                .joined(separator: " AND ")
            rows = try groupedPage(
                db, field: field, whereClause: whereClause, walkClause: walkClause, arguments: arguments)
        } else if !few, let reversed = query.reversedPage(total: total, exact: exact) {
            // A page past the middle, from the other end (the total is of this snapshot).
            var backwards = sort.map { "\($0.field.column) \($0.direction == .asc ? "DESC" : "ASC")" }
            backwards.append("id \(sort.last?.direction == .desc ? "ASC" : "DESC")")
            rows = try Row.fetchAll(
                db,
                sql:
                    "SELECT \(SQLiteJobStore.jobSelect) FROM jobs WHERE \(pageClause) ORDER BY \(backwards.joined(separator: ", ")) LIMIT ? OFFSET ?",
                arguments: StatementArguments(pageArguments + [reversed.limit, reversed.offset])
            ).reversed()
        } else {
            rows = try Row.fetchAll(
                db,
                sql:
                    "SELECT \(SQLiteJobStore.jobSelect) FROM jobs WHERE \(pageClause) ORDER BY \(order.joined(separator: ", ")) LIMIT ? OFFSET ?",
                arguments: StatementArguments(pageArguments + [query.limit, query.offset]))
        }
        let jobs = try SQLiteJobStore.loadJobs(rows: rows, db)
        return JobPage(jobs: jobs, total: total, totalIsExact: exact)
    }

    /// The page of a `GroupedPage` sort: group sizes from `job_counts`, then per group the page
    /// touches one walk of the (field, created_at) index; for another time, a walk of that
    /// time's (org, time) index keeping the group's jobs (`walkClause` keeps the filters'
    /// indexes out), or for a group of at most `fewMatches` jobs, the group found by its index
    /// and sorted.
    private func groupedPage(
        _ db: Database, field: SortField, whereClause: String, walkClause: String,
        arguments: [any DatabaseValueConvertible]
    ) throws -> [Row] {
        let column = field.column
        let groupOrder = query.sort[0].direction == .asc ? "ASC" : "DESC"
        let timeOrder = query.sort[1].direction == .asc ? "ASC" : "DESC"
        let time = query.sort[1].field.column
        let groups = try Row.fetchAll(
            db,
            sql: """
                SELECT \(column) AS value, SUM(count) AS n FROM job_counts WHERE \(whereClause)
                GROUP BY \(column) ORDER BY \(column) \(groupOrder)
                """,
            arguments: StatementArguments(arguments)
        ).map { (value: $0["value"] as String, count: $0["n"] as Int) }
        var rows: [Row] = []
        for slice in GroupedPage.plan(groups: groups, offset: query.offset, limit: query.limit) {
            let byCreation = query.sort[1].field == .createdAt
            let smallGroup = slice.groupSize <= query.fewMatches
            let filter =
                byCreation || smallGroup ? "\(whereClause) AND \(column) = ?" : "\(walkClause) AND +\(column) = ?"
            let sortPrefix = !byCreation && smallGroup ? "+" : ""
            rows += try Row.fetchAll(
                db,
                sql: """
                    SELECT \(SQLiteJobStore.jobSelect) FROM jobs WHERE \(filter)
                    ORDER BY \(sortPrefix)\(time) \(timeOrder), id \(timeOrder) LIMIT ? OFFSET ?
                    """,
                arguments: StatementArguments(arguments + [slice.value, slice.limit, slice.offset]))
        }
        return rows
    }

    /// The condition index of the equality filter that matches fewest jobs of the org by the
    /// counts (a schedule's, which has no count, always: a schedule's jobs are few).
    private func leastMatching(
        _ equalities: [(condition: Int, counted: (sql: String, arguments: [any DatabaseValueConvertible])?)],
        _ db: Database
    ) throws -> Int {
        var best: (condition: Int, count: Int)?
        for equality in equalities {
            guard let counted = equality.counted else { return equality.condition }
            let count =
                try Int.fetchOne(
                    db, sql: "SELECT COALESCE(SUM(count), 0) FROM job_counts WHERE org_id = ? AND " + counted.sql,
                    arguments: StatementArguments([query.orgID] + counted.arguments)) ?? 0
            if best == nil || count < best!.count { best = (equality.condition, count) }
        }
        return best?.condition ?? equalities[0].condition
    }

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
