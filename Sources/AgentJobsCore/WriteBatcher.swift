import Synchronization

/// Merges concurrent writes into batches (group commit): while one batch is being written,
/// the writes that arrive wait and go together in the next one, so many small commits (each
/// an fsync, or a round trip) become few large ones. A lone write goes at once.
///
/// Every caller is answered only after the batch holding its item was written; `flush`
/// answers each item (one may fail without failing the others), or throws to fail them all.
public final class WriteBatcher<Item: Sendable, Output: Sendable>: Sendable {
    /// Writes a batch and returns one result per item, in order.
    public typealias Flush = @Sendable ([Item]) async throws -> [Result<Output, any Error>]
    /// Writes one item that found no batch under way (see `submit`).
    public typealias WriteAlone = @Sendable (Item) async throws -> Output

    // Inlinable throughout, so that each store gets the batcher specialized for its items:
    // the generic one looked up the metadata of its continuations and state at every write
    // (`bench/callgrind.py`).
    @usableFromInline
    struct Pending: Sendable {
        @usableFromInline var item: Item
        @usableFromInline var continuation: CheckedContinuation<Output, any Error>

        @inlinable
        init(item: Item, continuation: CheckedContinuation<Output, any Error>) {
            self.item = item
            self.continuation = continuation
        }
    }

    @usableFromInline
    struct State: Sendable {
        @usableFromInline var pending: [Pending] = []
        @usableFromInline var flushing = false

        @inlinable init() {}
    }

    @usableFromInline let maxBatch: Int
    @usableFromInline let flush: Flush
    @usableFromInline let writeAlone: WriteAlone?
    @usableFromInline let state = Mutex(State())

    /// `writeAlone`, when given, writes a lone write's item on the caller's task (see
    /// `submit`), a cheaper way than a batch (SQLite: on the caller's thread).
    @inlinable
    public init(maxBatch: Int = 512, flush: @escaping Flush, writeAlone: WriteAlone? = nil) {
        self.maxBatch = max(1, maxBatch)
        self.flush = flush
        self.writeAlone = writeAlone
    }

    /// How many writes wait for the next batch (those of the batch being written excluded).
    @inlinable
    public var waiting: Int { state.withLock { $0.pending.count } }

    /// Writes `item` in the next batch and returns its output once that batch is written.
    ///
    /// With `writeAlone`, a write that finds no batch under way writes itself at once, on the
    /// caller's task: no task is started and nobody is resumed, which is most of a lone write's
    /// cost when the write itself is cheap (SQLite). The writes that arrive meanwhile wait and
    /// go together in the next batch, written by a new task. Without it (PostgreSQL, where a
    /// write is a round trip) the first write starts that task and waits with the others, so
    /// the writes that arrive during the hand-off join its batch.
    @inlinable
    public func submit(_ item: Item) async throws -> Output {
        let leads = state.withLock { state in
            guard writeAlone != nil, !state.flushing else { return false }
            state.flushing = true
            return true
        }
        if leads {
            let result: Result<Output, any Error>
            do {
                result = .success(try await writeAlone!(item))
            } catch {
                result = .failure(error)
            }
            let more = state.withLock { state in
                guard !state.pending.isEmpty else {
                    state.flushing = false
                    return false
                }
                return true
            }
            if more { Task { await self.flushUntilEmpty() } }
            return try result.get()
        }
        return try await withCheckedThrowingContinuation { continuation in
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

    @inlinable
    func flushUntilEmpty() async {
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
            do {
                let results = try await flush(batch.map(\.item))
                for (index, pending) in batch.enumerated() {
                    pending.continuation.resume(
                        with: index < results.count ? results[index] : .failure(WriteBatcherError.noResult))
                }
            } catch {
                for pending in batch { pending.continuation.resume(throwing: error) }
            }
        }
    }
}

/// A batch's flush returned fewer results than it had items (a programming error).
public enum WriteBatcherError: Error {
    case noResult
}
