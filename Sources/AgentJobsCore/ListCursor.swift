import Foundation

/// A keyset cursor over a job list: the sort-key values and `job_id` of the last job of a page.
/// The next page starts right after that job (`after`), found by an index seek however deep it
/// lies, where an `offset` would count every job it skips.
///
/// The text form is opaque to clients (base64url of JSON) and carries its sort, so a cursor
/// used with another sort is refused rather than misread.
public struct ListCursor: Sendable, Hashable {
    /// A stored column value the comparison uses.
    public enum Value: Sendable, Hashable {
        case millis(Int64)
        case text(String)
    }

    /// The sort the cursor was made for (with the default filled in).
    public var sort: [SortKey]
    /// One value per sort key.
    public var values: [Value]
    public var jobID: String

    public init(sort: [SortKey], values: [Value], jobID: String) {
        self.sort = sort
        self.values = values
        self.jobID = jobID
    }

    /// The cursor after `job` in a list sorted by `sort`.
    public init(after job: Job, sort: [SortKey]) {
        self.sort = sort
        self.jobID = job.id
        values = sort.map { key in
            switch key.field {
            case .createdAt: .millis(Timestamp.millis(job.createdAt))
            case .updatedAt: .millis(Timestamp.millis(job.updatedAt))
            case .scheduledAt: .millis(Timestamp.millis(job.scheduledAt))
            case .jobStatus: .text(job.status.rawValue)
            case .jobTypeID: .text(job.jobTypeID)
            case .channelCode: .text(job.targetChannel.code)
            }
        }
    }

    /// The sort as the cursor spells it: `created_at:desc,job_type_id:asc`.
    static func signature(_ sort: [SortKey]) -> String {
        sort.map { "\($0.field.rawValue):\($0.direction.rawValue)" }.joined(separator: ",")
    }

    /// The text a client passes back as `after`.
    public var encoded: String {
        let parts: [Any] = [
            Self.signature(sort),
            values.map { value -> Any in
                switch value {
                case .millis(let millis): millis
                case .text(let text): text
                }
            },
            jobID,
        ]
        let data = (try? JSONSerialization.data(withJSONObject: parts)) ?? Data()
        return data.base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    /// Reads `after` for a list sorted by `sort`; a malformed cursor, or one made for another
    /// sort, is a 400.
    public static func decode(_ text: String, sort: [SortKey]) throws(AgentJobsError) -> ListCursor {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        guard text.count <= 4096, let data = Data(base64Encoded: base64),
            let parts = try? JSONSerialization.jsonObject(with: data) as? [Any], parts.count == 3,
            let signature = parts[0] as? String, let raw = parts[1] as? [Any], let jobID = parts[2] as? String
        else { throw .badRequest("after: not a cursor this API returned (meta.next_after)") }
        guard signature == Self.signature(sort) else {
            throw .badRequest("after: the cursor was made for sort '\(signature)', not '\(Self.signature(sort))'")
        }
        var values: [Value] = []
        for (key, value) in zip(sort, raw) {
            switch key.field {
            case .createdAt, .updatedAt, .scheduledAt:
                guard let number = value as? NSNumber, let millis = Int64(exactly: number.doubleValue) else {
                    throw .badRequest("after: not a cursor this API returned (meta.next_after)")
                }
                values.append(.millis(millis))
            case .jobStatus, .jobTypeID, .channelCode:
                guard let string = value as? String else {
                    throw .badRequest("after: not a cursor this API returned (meta.next_after)")
                }
                values.append(.text(string))
            }
        }
        guard values.count == sort.count else {
            throw .badRequest("after: not a cursor this API returned (meta.next_after)")
        }
        return ListCursor(sort: sort, values: values, jobID: jobID)
    }

    /// The keyset condition, in SQL with `?` for each value of `arguments`: the rows that come
    /// after the cursor in the sort order (ties by `id`, in the last key's direction).
    ///
    /// `(a, b, id) > (x, y, z)` in mixed directions, spelled as an OR of prefixes behind a
    /// bound on the first key, which lets the index seek:
    /// `a >= x AND (a > x OR (a = x AND (b < y OR (b = y AND id > z))))`.
    public var condition: (sql: String, arguments: [Value]) {
        var columns = zip(sort, values).map { ($0.field.column, $0.direction, $1) }
        columns.append(("id", sort.last?.direction ?? .asc, .text(jobID)))
        var sql = ""
        var arguments: [Value] = []
        for (index, (column, direction, value)) in columns.enumerated() {
            let isLast = index == columns.count - 1
            sql += "\(column) \(direction == .asc ? ">" : "<") ?"
            arguments.append(value)
            if !isLast {
                sql += " OR (\(column) = ? AND ("
                arguments.append(value)
            }
        }
        sql += String(repeating: "))", count: columns.count - 1)
        let (firstColumn, firstDirection, firstValue) = columns[0]
        return ("(\(firstColumn) \(firstDirection == .asc ? ">=" : "<=") ? AND (\(sql)))", [firstValue] + arguments)
    }
}

extension JobQuery {
    /// The cursor of the page after `page` (`meta.next_after`): a full page may have more after
    /// it; a short one is the last (`nil`).
    public func nextAfter(in page: JobPage) -> ListCursor? {
        guard page.jobs.count == limit, let last = page.jobs.last else { return nil }
        return ListCursor(after: last, sort: sort)
    }
}
