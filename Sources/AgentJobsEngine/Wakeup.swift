import Synchronization

/// Wakes the scheduler loop early: signals coalesce, and a signal sent while nobody waits
/// is kept for the next wait.
final class Wakeup: Sendable {
    private struct State {
        var pending = false
        var waiter: CheckedContinuation<Void, Never>?
        var generation: UInt64 = 0
    }

    private let state = Mutex(State())

    /// Wakes the current or next `wait`.
    func signal() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.waiter else {
                state.pending = true
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    /// Returns after `timeout`, or earlier when signalled.
    func wait(timeout: Duration) async {
        guard timeout > .zero else { return }
        let generation = state.withLock { state -> UInt64? in
            if state.pending {
                state.pending = false
                return nil
            }
            state.generation &+= 1
            return state.generation
        }
        guard let generation else { return }
        let timer = Task {
            do {
                try await Task.sleep(for: timeout)
                self.expire(generation)
            } catch {}
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let resumeNow = state.withLock { state -> Bool in
                    if state.pending || state.generation != generation || Task.isCancelled {
                        state.pending = false
                        return true
                    }
                    state.waiter = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            self.expire(generation)
        }
        timer.cancel()
    }

    private func expire(_ generation: UInt64) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard state.generation == generation else { return nil }
            state.generation &+= 1
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }
}
