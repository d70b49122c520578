import AgentJobsCore
import Foundation
import GRDB
import Synchronization

/// Batches concurrent writes into one SQLite transaction (`WriteBatcher`): SQLite has one
/// writer and each durable commit costs an fsync, so many small commits become few large ones.
///
/// An item that writes several statements runs in its own savepoint, so one item's failure
/// does not affect the others (a single statement is atomic on its own).
final class GroupCommit<Item: Sendable, Output: Sendable>: Sendable {
    typealias Apply = @Sendable (Database, Item) throws -> Output

    private let batcher: WriteBatcher<Item, Output>

    init(
        writer: any DatabaseWriter, maxBatch: Int = 512,
        needsSavepoint: @escaping @Sendable (Item) -> Bool = { _ in true },
        apply: @escaping Apply
    ) {
        let write: @Sendable (Database, Item) -> Result<Output, any Error> = { db, item in
            guard needsSavepoint(item) else { return Result { try apply(db, item) } }
            var outcome: Result<Output, any Error> = .failure(CancellationError())
            do {
                try db.inSavepoint {
                    do {
                        outcome = .success(try apply(db, item))
                        return .commit
                    } catch {
                        outcome = .failure(error)
                        return .rollback
                    }
                }
            } catch {
                outcome = .failure(error)
            }
            return outcome
        }
        batcher = WriteBatcher(
            maxBatch: maxBatch,
            flush: { items in try await writer.write { db in items.map { write(db, $0) } } },
            // A lone write (nothing else waiting) goes on the caller's thread; a batch, which
            // holds the writer longer, goes to GRDB's writer queue and frees this thread.
            writeAlone: { item in
                guard OnCallerThread.take() else { return try await writer.write { db in write(db, item) }.get() }
                defer { OnCallerThread.give() }
                return try Self.writeNow(writer) { db in write(db, item) }.get()
            })
    }

    /// Writes on the calling thread: GRDB's synchronous write runs its block right here when
    /// the writer is free (a serial queue's `sync`), where the asynchronous one hands the
    /// block to another thread and back (two thread wake-ups, most of a lone create's cost).
    /// The writer's work is short and never waits for a task; but the writer may be busy (a
    /// purge batch, another process holding the lock for up to the busy timeout), so at most
    /// one thread of the concurrency pool waits here at a time (`OnCallerThread`).
    private static func writeNow<T>(_ writer: any DatabaseWriter, _ block: (Database) throws -> T) throws -> T {
        try writer.write(block)
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
