import GRDB
import Synchronization

/// Batches concurrent writes into one transaction (group commit): SQLite has one writer and
/// each durable commit costs an fsync, so many small commits are merged into few large ones.
///
/// An item that writes several statements runs in its own savepoint, so one item's failure
/// does not affect the others (a single statement is atomic on its own); every caller is
/// answered only after the transaction holding its item has committed.
final class GroupCommit<Item: Sendable, Output: Sendable>: Sendable {
    typealias Apply = @Sendable (Database, Item) throws -> Output

    private struct Pending: Sendable {
        var item: Item
        var continuation: CheckedContinuation<Output, any Error>
    }

    private struct State: Sendable {
        var pending: [Pending] = []
        var flushing = false
    }

    private let writer: any DatabaseWriter
    private let maxBatch: Int
    private let apply: Apply
    private let needsSavepoint: @Sendable (Item) -> Bool
    private let state = Mutex(State())

    init(
        writer: any DatabaseWriter, maxBatch: Int = 512,
        needsSavepoint: @escaping @Sendable (Item) -> Bool = { _ in true },
        apply: @escaping Apply
    ) {
        self.writer = writer
        self.maxBatch = maxBatch
        self.needsSavepoint = needsSavepoint
        self.apply = apply
    }

    /// Writes `item` in the next batch and returns its output once that batch has committed.
    func submit(_ item: Item) async throws -> Output {
        try await withCheckedThrowingContinuation { continuation in
            let startFlushing = state.withLock { state in
                state.pending.append(Pending(item: item, continuation: continuation))
                guard !state.flushing else { return false }
                state.flushing = true
                return true
            }
            if startFlushing {
                Task { await self.flushUntilEmpty() }
            }
        }
    }

    private func flushUntilEmpty() async {
        while true {
            let batch: [Pending] = state.withLock { state in
                guard !state.pending.isEmpty else {
                    state.flushing = false
                    return []
                }
                let count = min(state.pending.count, maxBatch)
                let batch = Array(state.pending.prefix(count))
                state.pending.removeFirst(count)
                return batch
            }
            guard !batch.isEmpty else { return }
            let apply = self.apply
            let needsSavepoint = self.needsSavepoint
            let items = batch.map(\.item)
            do {
                let results = try await writer.write { db in
                    items.map { item in
                        guard needsSavepoint(item) else {
                            return Result { try apply(db, item) }
                        }
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
                for (pending, result) in zip(batch, results) {
                    pending.continuation.resume(with: result)
                }
            } catch {
                for pending in batch { pending.continuation.resume(throwing: error) }
            }
        }
    }
}
