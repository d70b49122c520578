import AgentJobsCore
import Foundation
import Synchronization

/// The scheduler's copy of the store's wake times, so that a turn of its loop reads them from
/// the store only when something it cannot account for changed.
///
/// What it can account for is merged in: a job created or rescheduled here (`noteDue`), a slot
/// freed. What it cannot (another node's change, a cancel, a sweep, a fired schedule, a claim
/// that found fewer due jobs than it asked for, the fallback poll) drops the copy, and the
/// next turn reads the store again. A read that overlapped a drop is not kept, so a change
/// never hides behind a read that started before it.
final class KnownWakeTimes: Sendable {
    private struct State {
        var times: WakeTimes?
        /// The local instant `times` were read at (their `observedAt` advances with it).
        var readAt = Date.distantPast
        /// Counts drops, and merges that found no copy to merge into.
        var changes: UInt64 = 0
    }
    private let state = Mutex(State())

    /// The copy, its `observedAt` advanced to `now`; `nil` when the store must be read.
    func current(now: Date) -> WakeTimes? {
        state.withLock { state in
            guard var times = state.times else { return nil }
            times.observedAt = times.observedAt.map { $0.addingTimeInterval(now.timeIntervalSince(state.readAt)) }
            return times
        }
    }

    /// A token to pass to `store(_:readAt:token:)`: taken before reading the store.
    var token: UInt64 { state.withLock { $0.changes } }

    /// Keeps `times`, read from the store at `readAt`, unless something changed since `token`.
    func store(_ times: WakeTimes, readAt: Date, token: UInt64) {
        state.withLock { state in
            guard state.changes == token else { return }
            state.times = times
            state.readAt = readAt
        }
    }

    /// Something changed that only the store knows: read it again.
    func drop() {
        state.withLock { state in
            state.times = nil
            state.changes &+= 1
        }
    }

    /// A job became due at `dueAt` (created, rescheduled, or given its next task here).
    func noteDue(_ dueAt: Date) {
        merge { $0.nextDue = min($0.nextDue ?? dueAt, dueAt) }
    }

    /// A schedule was created or changed here and next fires at `at`.
    func noteSchedule(_ at: Date) {
        merge { $0.nextSchedule = min($0.nextSchedule ?? at, at) }
    }

    private func merge(_ change: (inout WakeTimes) -> Void) {
        state.withLock { state in
            guard var times = state.times else {
                state.changes &+= 1
                return
            }
            change(&times)
            state.times = times
        }
    }
}
