import AgentJobsCore
import Foundation
import ServiceLifecycle
import Synchronization

/// Tells open job streams when their job has new entries. One store query per poll period
/// covers every job streamed by this process: one waiting stream makes it (no background task)
/// while the others wait for its answer, and all of them look at it as soon as it is in.
/// Entries written on any node show up, since the store is the only source.
final class JobStreamWatcher: Sendable {
    private struct State {
        /// Streams per job.
        var watched: [String: Int] = [:]
        var latest: [String: Int64] = [:]
        var refreshedAt: ContinuousClock.Instant?
        var refreshing = false
        /// Streams waiting for the refresh in progress.
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private enum Turn {
        case found
        case refresh(after: Duration)
        case wait
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

    /// Waits until the (watched) job has an entry after `cursor` (`true`), or until `deadline`
    /// or the server's shutdown (`false`).
    func waitForEntry(
        of jobID: String, after cursor: Int64, until deadline: ContinuousClock.Instant
    ) async throws
        -> Bool
    {
        while ContinuousClock.now < deadline, !Task.isShuttingDownGracefully {
            let now = ContinuousClock.now
            let turn: Turn = state.withLock { state in
                if let latest = state.latest[jobID], latest > cursor { return .found }
                guard !state.refreshing else { return .wait }
                state.refreshing = true
                let since = state.refreshedAt.map { now - $0 } ?? interval
                return .refresh(after: since < interval ? interval - since : .zero)
            }
            switch turn {
            case .found:
                return true
            case .refresh(let delay):
                try await refresh(after: delay)
            case .wait:
                await withCheckedContinuation { continuation in
                    let waiting = state.withLock { state in
                        guard state.refreshing else { return false }
                        state.waiters.append(continuation)
                        return true
                    }
                    if !waiting { continuation.resume() }
                }
            }
        }
        return false
    }

    /// Reads the latest entries of every watched job after `delay`, then lets the waiting
    /// streams look (also when the read fails: one of them then tries again).
    private func refresh(after delay: Duration) async throws {
        var fresh: [String: Int64] = [:]
        var failure: (any Error)?
        do {
            if delay > .zero { try await Task.sleep(for: delay) }
            let jobs = state.withLock { Array($0.watched.keys) }
            fresh = try await store.latestStreamEntries(jobIDs: jobs)
        } catch {
            failure = error
        }
        let waiters = state.withLock { state in
            for (job, id) in fresh where state.watched[job] != nil { state.latest[job] = id }
            state.refreshedAt = ContinuousClock.now
            state.refreshing = false
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
        if let failure { throw failure }
    }
}
