import Synchronization

/// The engine's one way to wait for something to happen: a counter of signals that tasks
/// await with an optional time limit.
///
/// A waiter reads `generation`, checks its condition, and waits for a generation past the one
/// it read, so a signal sent between the check and the wait is never missed, and many signals
/// sent meanwhile wake it once. Every waiter past the old generation wakes (a broadcast).
/// Serves as a wake-up for loops (the scheduler, the sweeps), a one-shot latch (a process
/// exited, a task was interrupted: wait for generation 0 to pass), and a condition wait (the
/// drain: wait until no task is in flight).
public final class AsyncSignal: Sendable {
    private enum Waiter {
        /// Registered but not yet suspended.
        case pending
        case suspended(CheckedContinuation<Void, Never>)
        /// Ended by its time limit or cancellation before it suspended.
        case expired
        /// Not a task: an action run when the generation passes (`onSignal`).
        case action(@Sendable () -> Void)
    }

    private struct State {
        var generation: UInt64 = 0
        var waiters: [UInt64: (after: UInt64, waiter: Waiter)] = [:]
        var nextWaiterID: UInt64 = 0
    }

    private let state = Mutex(State())

    public init() {}

    /// How many times `signal()` was called.
    public var generation: UInt64 { state.withLock { $0.generation } }

    /// Whether `signal()` was ever called (for one-shot use).
    public var hasFired: Bool { generation > 0 }

    /// Counts one signal and wakes every task waiting for a generation below the new one.
    public func signal() {
        let (woken, actions) = state.withLock { state -> ([CheckedContinuation<Void, Never>], [@Sendable () -> Void]) in
            state.generation &+= 1
            var woken: [CheckedContinuation<Void, Never>] = []
            var actions: [@Sendable () -> Void] = []
            for (id, entry) in state.waiters where entry.after < state.generation {
                switch entry.waiter {
                case .suspended(let continuation): woken.append(continuation)
                case .action(let action): actions.append(action)
                case .pending, .expired: break
                }
                state.waiters[id] = nil
            }
            return (woken, actions)
        }
        woken.forEach { $0.resume() }
        actions.forEach { $0() }
    }

    /// Runs `action` once the generation is past `seen`: on the thread that signals, or at
    /// once on this one when it already is. Returns an id for `removeAction` (`nil` when the
    /// action already ran). A task that must stop at a signal registers how to stop it here
    /// instead of waiting for the signal in a task of its own.
    @discardableResult
    public func onSignal(after seen: UInt64 = 0, _ action: @escaping @Sendable () -> Void) -> UInt64? {
        let id = state.withLock { state -> UInt64? in
            guard state.generation <= seen else { return nil }
            state.nextWaiterID &+= 1
            state.waiters[state.nextWaiterID] = (seen, .action(action))
            return state.nextWaiterID
        }
        if id == nil { action() }
        return id
    }

    /// Forgets an action `onSignal` registered (it does not run).
    public func removeAction(_ id: UInt64) {
        state.withLock { state in
            if case .action? = state.waiters[id]?.waiter { state.waiters[id] = nil }
        }
    }

    /// Returns once the generation is past `seen`, after `timeout` (when given), or when the
    /// calling task is cancelled. Returns whether the generation is past `seen`.
    @discardableResult
    public func wait(after seen: UInt64, timeout: Duration? = nil) async -> Bool {
        let id = state.withLock { state -> UInt64? in
            guard state.generation <= seen else { return nil }
            state.nextWaiterID &+= 1
            state.waiters[state.nextWaiterID] = (seen, .pending)
            return state.nextWaiterID
        }
        guard let id else { return true }
        if let timeout {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.suspend(id) }
                group.addTask {
                    try? await Task.sleep(for: timeout)
                    self.expire(id)
                }
                await group.next()
                group.cancelAll()
                self.expire(id)
            }
        } else {
            await suspend(id)
        }
        return generation > seen
    }

    /// Waits until the signal has fired at least once (a latch).
    @discardableResult
    public func waitUntilFired(timeout: Duration? = nil) async -> Bool {
        await wait(after: 0, timeout: timeout)
    }

    private func suspend(_ id: UInt64) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let resumeNow = state.withLock { state -> Bool in
                    guard let entry = state.waiters[id], case .pending = entry.waiter else {
                        state.waiters[id] = nil
                        return true
                    }
                    state.waiters[id] = (entry.after, .suspended(continuation))
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            self.expire(id)
        }
    }

    private func expire(_ id: UInt64) {
        let continuation = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let entry = state.waiters[id] else { return nil }
            switch entry.waiter {
            case .pending:
                state.waiters[id] = (entry.after, .expired)
                return nil
            case .suspended(let continuation):
                state.waiters[id] = nil
                return continuation
            case .expired, .action:
                return nil
            }
        }
        continuation?.resume()
    }
}
