import AgentJobsCore
import Synchronization
import Testing

/// The group commit's batching (`WriteBatcher`), with a recording flush instead of a store.
@Suite("WriteBatcher")
struct WriteBatcherTests {
    struct Failure: Error, Equatable { let item: Int }

    /// What the batcher asked for: each lone write's item and each batch's items.
    final class Recorder: Sendable {
        private let calls = Mutex<(alone: [Int], batches: [[Int]])>(([], []))
        var alone: [Int] { calls.withLock { $0.alone } }
        var batches: [[Int]] { calls.withLock { $0.batches } }
        func wroteAlone(_ item: Int) { calls.withLock { $0.alone.append(item) } }
        func wroteBatch(_ items: [Int]) { calls.withLock { $0.batches.append(items) } }
    }

    /// A write held until `open` is called.
    final class Gate: Sendable {
        private let stream: AsyncStream<Void>
        private let continuation: AsyncStream<Void>.Continuation
        init() { (stream, continuation) = AsyncStream.makeStream() }
        func wait() async { for await _ in stream { return } }
        func open() { continuation.finish() }
    }

    @Test("a lone write is written alone, by writeAlone, and answered with its output")
    func loneWrite() async throws {
        let recorder = Recorder()
        let batcher = WriteBatcher<Int, Int>(
            flush: { items in
                recorder.wroteBatch(items)
                return items.map { .success($0 * 10) }
            },
            writeAlone: { item in
                recorder.wroteAlone(item)
                return item * 100
            })
        #expect(try await batcher.submit(7) == 700)
        #expect(try await batcher.submit(8) == 800)
        #expect(recorder.alone == [7, 8])
        #expect(recorder.batches.isEmpty)
        #expect(batcher.waiting == 0)
    }

    @Test("without writeAlone, a lone write is a batch of one, written by the batch's task")
    func loneWriteWithoutWriteAlone() async throws {
        let recorder = Recorder()
        let batcher = WriteBatcher<Int, Int>(flush: { items in
            recorder.wroteBatch(items)
            return items.map { .success($0 * 10) }
        })
        #expect(try await batcher.submit(7) == 70)
        #expect(recorder.batches == [[7]])
        #expect(recorder.alone.isEmpty)
    }

    /// A batcher whose lone writes wait for `release` (after opening `entered`), whose batches
    /// are recorded and fail as a whole when they hold 3, item 5 failing alone, item 9 failing
    /// a lone write.
    static func heldBatcher(_ recorder: Recorder, entered: Gate, release: Gate) -> WriteBatcher<Int, Int> {
        WriteBatcher<Int, Int>(
            flush: { items in
                recorder.wroteBatch(items)
                if items.contains(3) { throw Failure(item: 3) }
                return items.map { $0 == 5 ? .failure(Failure(item: 5)) : .success($0 * 10) }
            },
            writeAlone: { item in
                entered.open()
                await release.wait()
                recorder.wroteAlone(item)
                if item == 9 { throw Failure(item: 9) }
                return item * 100
            })
    }

    /// Submits `first`, then `others` while `first` is being written, and answers each.
    static func submitBehind(_ first: Int, _ others: [Int]) async -> (Recorder, [Int: Result<Int, Failure>]) {
        let recorder = Recorder()
        let entered = Gate()
        let release = Gate()
        let batcher = heldBatcher(recorder, entered: entered, release: release)
        let results = await withTaskGroup(of: (Int, Result<Int, Failure>).self) { group in
            group.addTask { (first, await result { try await batcher.submit(first) }) }
            await entered.wait()
            for item in others { group.addTask { (item, await result { try await batcher.submit(item) }) } }
            // Each submit registers itself without suspending in between; yield until all have.
            while batcher.waiting < others.count { await Task.yield() }
            release.open()
            var results: [Int: Result<Int, Failure>] = [:]
            for await (item, result) in group { results[item] = result }
            return results
        }
        return (recorder, results)
    }

    @Test("writes that arrive while one is written go together in the next batch, each answered with its own output")
    func batchesWhatArrivesMeanwhile() async {
        let (recorder, results) = await Self.submitBehind(1, [2, 4, 6, 7])
        let expected: [Int: Result<Int, Failure>] = [
            1: .success(100), 2: .success(20), 4: .success(40), 6: .success(60), 7: .success(70),
        ]
        #expect(results == expected)
        #expect(recorder.alone == [1])
        #expect(recorder.batches.map { $0.sorted() } == [[2, 4, 6, 7]])
    }

    @Test("a batch that fails fails each of its writes; one item's failure fails only that item")
    func failures() async {
        let (_, failedBatch) = await Self.submitBehind(9, [2, 3])
        let batchFailed: [Int: Result<Int, Failure>] = [
            9: .failure(Failure(item: 9)), 2: .failure(Failure(item: 3)), 3: .failure(Failure(item: 3)),
        ]
        #expect(failedBatch == batchFailed)
        let (_, oneFailed) = await Self.submitBehind(1, [4, 5])
        let itemFailed: [Int: Result<Int, Failure>] = [
            1: .success(100), 4: .success(40), 5: .failure(Failure(item: 5)),
        ]
        #expect(oneFailed == itemFailed)
    }

    static func result(_ body: () async throws -> Int) async -> Result<Int, Failure> {
        do { return .success(try await body()) } catch let failure as Failure { return .failure(failure) } catch {
            return .failure(Failure(item: -1))
        }
    }
}
