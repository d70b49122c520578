/// A deep `offset` page read from the other end of the list.
///
/// An offset page makes the database step over every match before it: at offset 900,000 of
/// 1,000,000 that is 900,000 index entries. When the exact number of matches is known in the
/// same snapshot, a page past the middle is the same rows as a page near the start of the
/// reversed order (every sort key and the id tie-break reversed), read and turned around:
/// at most half the list is ever stepped over.
public struct ReversedPage: Equatable, Sendable {
    /// The offset and the limit in the reversed order.
    public var offset: Int
    public var limit: Int

    public init(offset: Int, limit: Int) {
        self.offset = offset
        self.limit = limit
    }

    /// The reversed read for the page at `offset` of `limit` rows among `total` matches, or
    /// `nil` when reading forward steps over no more rows (a page in the first half, or past
    /// the end, which is empty without reading anything).
    public static func plan(total: Int, offset: Int, limit: Int) -> ReversedPage? {
        guard limit > 0, offset < total, offset > total - offset else { return nil }
        let rows = min(limit, total - offset)
        return ReversedPage(offset: total - offset - rows, limit: rows)
    }
}

extension JobQuery {
    /// Whether this offset page lies past the last of `total` matches, so it is empty without
    /// reading anything (an exact total and no cursor: an offset counts every row it skips).
    public func pageIsPastLastMatch(total: Int, exact: Bool) -> Bool {
        exact && after == nil && offset >= total
    }

    /// This offset page read from the other end (`ReversedPage.plan`), when `total` is exact
    /// and of the page's own snapshot and there is no cursor; `nil` to read it forward.
    public func reversedPage(total: Int, exact: Bool) -> ReversedPage? {
        guard exact, after == nil else { return nil }
        return ReversedPage.plan(total: total, offset: offset, limit: limit)
    }
}
