/// A page of a list sorted by a low-cardinality field first (`job_status`, `job_type_id` or
/// `channel_code`) and a time second (`created_at`, `scheduled_at` or `updated_at`), read group
/// by group: the stores' counts say how many jobs each value of the first field has, so whole
/// groups before the offset are skipped without reading them, and each group's part of the
/// page is one index walk (on (field, created_at), or on the time's own index filtered by the
/// group) or, for a group of at most `JobQuery.fewMatches` jobs, the group sorted. Without it
/// such a sort orders every match.
public enum GroupedPage {
    /// The leading field, when `query` can be read this way: sorted by one of those fields
    /// then one of those times (either direction each), filtered only by what the counts keep
    /// (status, job type, channel), and without a cursor.
    public static func leadingField(of query: JobQuery) -> SortField? {
        guard query.isCountedByCounters, query.after == nil, query.sort.count == 2,
            [.createdAt, .scheduledAt, .updatedAt].contains(query.sort[1].field),
            [.jobStatus, .jobTypeID, .channelCode].contains(query.sort[0].field)
        else { return nil }
        return query.sort[0].field
    }

    /// One group's share of the page.
    public struct Slice: Sendable, Hashable {
        public var value: String
        public var offset: Int
        public var limit: Int
        /// How many jobs the whole group has.
        public var groupSize: Int = 0
    }

    /// The slices that make up the page at `offset`/`limit`, given every group's value and
    /// count in sort order.
    public static func plan(groups: [(value: String, count: Int)], offset: Int, limit: Int) -> [Slice] {
        var skip = offset
        var wanted = limit
        var slices: [Slice] = []
        for group in groups where wanted > 0 && group.count > 0 {
            if skip >= group.count {
                skip -= group.count
                continue
            }
            let take = min(wanted, group.count - skip)
            slices.append(Slice(value: group.value, offset: skip, limit: take, groupSize: group.count))
            wanted -= take
            skip = 0
        }
        return slices
    }
}
