import AgentJobsEngine
import Foundation
import Synchronization
import Testing

/// The engine's one wait primitive.
@Suite("AsyncSignal")
struct AsyncSignalTests {
    @Test("a signal sent before the wait is not missed")
    func signalBeforeWait() async {
        let signal = AsyncSignal()
        let seen = signal.generation
        signal.signal()
        #expect(await signal.wait(after: seen, timeout: .seconds(30)))
    }

    @Test("without a signal the wait ends at its time limit and says so")
    func timeout() async {
        let signal = AsyncSignal()
        let started = ContinuousClock.now
        #expect(await signal.wait(after: signal.generation, timeout: .milliseconds(20)) == false)
        #expect(ContinuousClock.now - started >= .milliseconds(20))
    }

    @Test("one signal wakes every waiter (broadcast), and many signals wake a waiter once")
    func broadcast() async {
        let signal = AsyncSignal()
        let seen = signal.generation
        await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<5 { group.addTask { await signal.wait(after: seen, timeout: .seconds(30)) } }
            // Wait until the waiters are registered: each wait either sees the signal or is woken by it.
            signal.signal()
            signal.signal()
            var woken = 0
            for await result in group where result { woken += 1 }
            #expect(woken == 5)
        }
        #expect(signal.generation == seen + 2)
    }

    @Test("a latch: once fired, every later wait returns at once")
    func latch() async {
        let signal = AsyncSignal()
        #expect(!signal.hasFired)
        signal.signal()
        #expect(await signal.waitUntilFired())
        #expect(await signal.waitUntilFired(timeout: .milliseconds(1)))
    }

    @Test("cancelling the waiting task ends the wait")
    func cancellation() async {
        let signal = AsyncSignal()
        let waiter = Task { await signal.wait(after: signal.generation) }
        waiter.cancel()
        #expect(await waiter.value == false)
    }

    @Test("an action runs once at the next signal, at once when the signal already passed, never when removed")
    func actions() {
        let signal = AsyncSignal()
        let runs = Mutex<[String]>([])
        let first = signal.onSignal { runs.withLock { $0.append("first") } }
        let removed = signal.onSignal { runs.withLock { $0.append("removed") } }
        #expect(first != nil && removed != nil)
        signal.removeAction(try! #require(removed))
        #expect(runs.withLock { $0 }.isEmpty, "nothing runs before the signal")
        signal.signal()
        signal.signal()
        #expect(runs.withLock { $0 } == ["first"], "once, at the first signal")
        let late = signal.onSignal { runs.withLock { $0.append("late") } }
        #expect(late == nil)
        #expect(runs.withLock { $0 } == ["first", "late"], "registered after the signal: ran at once")
        let next = signal.onSignal(after: signal.generation) { runs.withLock { $0.append("next") } }
        #expect(next != nil)
        signal.signal()
        #expect(runs.withLock { $0 } == ["first", "late", "next"])
    }
}
