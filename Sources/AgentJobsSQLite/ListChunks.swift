/// A list written or read in statements of 64, 16, 4 and 1 items, largest first: every
/// statement is one of four, compiled once per connection (`PendingJournal`'s multi-row
/// INSERTs, `RunningTaskPrefetch`'s `IN` lists).
enum ListChunks {
    static let sizes = [64, 16, 4, 1]

    /// Each size's statement, made by `text` from the size.
    static func statements(_ text: (Int) -> String) -> [Int: String] {
        Dictionary(uniqueKeysWithValues: sizes.map { ($0, text($0)) })
    }

    /// The pieces of a list of `count` items, in order, each of one of `sizes`.
    static func pieces(of count: Int) -> [Range<Int>] {
        var pieces: [Range<Int>] = []
        var start = 0
        while start < count {
            let size = sizes.first { $0 <= count - start }!
            pieces.append(start..<start + size)
            start += size
        }
        return pieces
    }
}
