import AgentJobsCore
import GRDB

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
        batcher = WriteBatcher(maxBatch: maxBatch) { items in
            try await writer.write { db in
                items.map { item in
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
            }
        }
    }

    /// Writes `item` in the next batch and returns its output once that batch has committed.
    func submit(_ item: Item) async throws -> Output {
        try await batcher.submit(item)
    }
}
