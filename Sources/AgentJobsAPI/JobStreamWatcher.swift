import AgentJobsCore
import Foundation
import Synchronization

/// Tells open job streams when their job has new entries: one store query per poll period for
/// every job streamed by this process, whichever stream asks first (no background task).
/// Entries written on any node show up, since the store is the only source.
final class JobStreamWatcher: Sendable {
    private struct State {
        /// Streams per job.
        var watched: [String: Int] = [:]
        var latest: [String: Int64] = [:]
        var refreshedAt: ContinuousClock.Instant?
        var refreshing = false
    }

    private let store: any JobStore
    private let interval: Duration
    private let state = Mutex(State())

    init(store: any JobStore, interval: Duration) {
        self.store = store
        self.interval = interval
    }

    func watch(_ jobID: String) {
        state.withLock { $0.watched[jobID, default: 0] += 1 }
    }

    func unwatch(_ jobID: String) {
        state.withLock { state in
            let count = (state.watched[jobID] ?? 1) - 1
            state.watched[jobID] = count > 0 ? count : nil
            if count <= 0 { state.latest[jobID] = nil }
        }
    }

    /// The latest entry id of `jobID` as of at most one poll period ago (refreshed by this
    /// call when older).
    func latestEntry(of jobID: String) async throws -> Int64? {
        let now = ContinuousClock.now
        let jobs: [String]? = state.withLock { state in
            guard !state.refreshing, state.refreshedAt.map({ now - $0 >= interval }) ?? true else { return nil }
            state.refreshing = true
            return Array(state.watched.keys)
        }
        if let jobs {
            let fresh: [String: Int64]
            do {
                fresh = try await store.latestStreamEntries(jobIDs: jobs)
            } catch {
                state.withLock { $0.refreshing = false }
                throw error
            }
            state.withLock { state in
                for (job, id) in fresh where state.watched[job] != nil { state.latest[job] = id }
                state.refreshedAt = now
                state.refreshing = false
            }
        }
        return state.withLock { $0.latest[jobID] }
    }
}
