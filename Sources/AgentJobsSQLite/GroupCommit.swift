import AgentJobsCore
import Foundation
import GRDB
import Synchronization

/// Batches concurrent writes into one SQLite transaction (`WriteBatcher`): SQLite has one
/// writer and each durable commit costs an fsync, so many small commits become few large ones.
///
/// One item's failure does not affect the others. A batch runs in one savepoint with its items
/// straight in it; if an item fails, the batch's work is rolled back and every item runs again,
/// each that writes several statements in its own savepoint (a single statement is atomic on
/// its own). Items rarely fail, and a savepoint per item cost a tenth of a drained job's
/// writes (GRDB compiles `SAVEPOINT` and `RELEASE` each time).
final class GroupCommit<Item: Sendable, Output: Sendable>: Sendable {
    typealias Apply = @Sendable (SQLiteWrite, Item) throws -> Output

    private let batcher: WriteBatcher<Item, Output>

    /// `prepare` runs before a batch (of more than one item) is applied, in its transaction:
    /// reads the items will need, gathered into a few statements (`RunningTaskPrefetch`). It
    /// may only read; when it fails, the items read for themselves.
    init(
        writer: any DatabaseWriter, maxBatch: Int = 512,
        needsSavepoint: @escaping @Sendable (Item) -> Bool = { _ in true },
        prepare: @escaping @Sendable (SQLiteWrite, [Item]) throws -> Void = { _, _ in },
        apply: @escaping Apply
    ) {
        let write: @Sendable (Database, Item) throws -> Result<Output, any Error> = { db, item in
            try SQLiteWrite.run(db) { Self.writeOne(item, $0, savepoint: needsSavepoint(item), apply: apply) }
        }
        batcher = WriteBatcher(
            maxBatch: maxBatch,
            flush: { items in
                try await writer.transaction { db in
                    try SQLiteWrite.run(db) { write in
                        if items.count > 1 { try? prepare(write, items) }
                        return Self.writeBatch(items, write, needsSavepoint: needsSavepoint, apply: apply)
                    }
                }
            },
            // A lone write (nothing else waiting) goes on the caller's thread; a batch, which
            // holds the writer longer, goes to GRDB's writer queue and frees this thread.
            writeAlone: { item in
                guard OnCallerThread.take() else {
                    return try await writer.transaction { db in try write(db, item) }.get()
                }
                defer { OnCallerThread.give() }
                return try Self.writeNow(writer) { db in try write(db, item) }.get()
            })
    }

    /// Writes a batch in the transaction of `write`: every item's output or error, as if each had
    /// been written alone.
    static func writeBatch(
        _ items: [Item], _ write: SQLiteWrite, needsSavepoint: (Item) -> Bool, apply: Apply
    ) -> [Result<Output, any Error>] {
        allAtOnce(items, write, apply: apply)
            ?? items.map { writeOne($0, write, savepoint: needsSavepoint($0), apply: apply) }
    }

    /// Applies `item`, in a savepoint of its own when `savepoint` is set (an item that
    /// writes several statements), so that a failure leaves nothing of it behind.
    static func writeOne(_ item: Item, _ write: SQLiteWrite, savepoint: Bool, apply: Apply) -> Result<Output, any Error>
    {
        if savepoint { return inSavepoint(write) { try apply(write, item) } }
        let mark = write.mark()
        let outcome = Result { try apply(write, item) }
        if case .failure = outcome { write.restore(mark) }
        return outcome
    }

    /// Applies every item of `items` in one savepoint; nil (and nothing written) when one of
    /// them failed, or for a lone item, which goes the per-item way at once.
    static func allAtOnce(_ items: [Item], _ write: SQLiteWrite, apply: Apply) -> [Result<Output, any Error>]? {
        guard items.count > 1 else { return nil }
        let outputs = inSavepoint(write) { try items.map { try apply(write, $0) } }
        return try? outputs.get().map { .success($0) }
    }

    /// `body`'s output, or its error with everything it wrote rolled back, its count changes
    /// and journal entries included.
    private static func inSavepoint<T>(_ write: SQLiteWrite, _ body: () throws -> T) -> Result<T, any Error> {
        var outcome: Result<T, any Error> = .failure(CancellationError())
        let mark = write.mark()
        defer { if case .failure = outcome { write.restore(mark) } }
        do {
            try write.db.inSavepoint {
                outcome = Result { try body() }
                if case .failure = outcome { return .rollback }
                return .commit
            }
        } catch {
            outcome = .failure(error)
        }
        return outcome
    }

    /// Writes on the calling thread: GRDB's synchronous write runs its block right here when
    /// the writer is free (a serial queue's `sync`), where the asynchronous one hands the
    /// block to another thread and back (two thread wake-ups, most of a lone create's cost).
    /// The writer's work is short and never waits for a task; but the writer may be busy (a
    /// purge batch, another process holding the lock for up to the busy timeout), so at most
    /// one thread of the concurrency pool waits here at a time (`OnCallerThread`).
    private static func writeNow<T>(_ writer: any DatabaseWriter, _ block: (Database) throws -> T) throws -> T {
        try writer.transactionNow(block)
    }

    /// Writes `item` in the next batch and returns its output once that batch has committed.
    func submit(_ item: Item) async throws -> Output {
        try await batcher.submit(item)
    }
}

/// The one slot for a write on the caller's thread (`GroupCommit`): taken by at most one
/// task at a time, and never on a single-core machine, whose concurrency pool has one thread.
enum OnCallerThread {
    private static let taken = Atomic<Bool>(false)
    private static let allowed = ProcessInfo.processInfo.activeProcessorCount > 1

    static func take() -> Bool {
        allowed && taken.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged
    }

    static func give() {
        taken.store(false, ordering: .releasing)
    }
}
