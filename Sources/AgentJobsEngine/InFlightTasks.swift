import AgentJobsCore
import Foundation
import Synchronization

/// Why an in-flight task was interrupted.
enum Interruption: Sendable, Hashable {
    /// The job was canceled; its task is already `CANCELED`.
    case canceled
    /// Another party ended the task (lease lost, deadline sweep); its end is recorded.
    case taskEnded
    /// The process is shutting down; the task is handed back.
    case shutdown
    /// The job's deadline passed while the task ran; the runner records it.
    case deadline
    /// The task ran past its job type's timeout; the runner records it.
    case timeout
}

/// When a task must stop whatever its executor does (the job's deadline or the task's
/// timeout, whichever comes first), and which of the two that is.
struct RunLimit: Sendable {
    var at: ContinuousClock.Instant
    var reason: Interruption

    /// The limit of `claimed`, measured from its claim in the store's clock (so this node's
    /// clock does not matter) and placed on this node's clock at `now`.
    init(of claimed: ClaimedTask, now: ContinuousClock.Instant = .now) {
        let limit = min(claimed.deadline, claimed.timeoutAt)
        let remaining = min(max(0, limit.timeIntervalSince(claimed.startedAt)), 1e9)
        at = now + .milliseconds(Int64(remaining * 1000))
        reason = claimed.deadline <= claimed.timeoutAt ? .deadline : .timeout
    }

    init(at: ContinuousClock.Instant, reason: Interruption) {
        self.at = at
        self.reason = reason
    }
}

/// The tasks running in this process, shared by the engine's services: the scheduler counts
/// free slots and org turns here, the runner registers and removes tasks, and the lease
/// keeper, the listener and the sweeps interrupt them.
final class InFlightTasks: Sendable {
    struct Entry: Sendable {
        var jobID: String
        var orgID: String
        var interruption: Interruption?
        /// Until when this worker may trust its lease (the last renewal plus the lease, less a
        /// margin); past it the task is stopped here before another node can rescue it.
        var trustedUntil: ContinuousClock.Instant
        /// When its run must end (the watchdog interrupts it then).
        var runLimit: RunLimit
        /// Fires when the task is interrupted.
        let interrupted = AsyncSignal()
    }

    private struct State: Sendable {
        var entries: [String: Entry] = [:]
        /// How many of `entries` each org has (kept with them, so a claim does not count).
        var runningPerOrg: [String: Int] = [:]
        var orgTurns: [String: UInt64] = [:]
        var turn: UInt64 = 0
        /// Jobs canceled lately, so that a task claimed just before its cancel committed is
        /// interrupted as soon as it registers (the cancel may be heard first).
        var recentlyCanceled: [String: Date] = [:]
        /// When the lease watchdog plans to look next (`nil`: it is looking now).
        var watchdogWake: ContinuousClock.Instant?

        /// One task of `orgID` left.
        mutating func leave(_ orgID: String) {
            let left = (runningPerOrg[orgID] ?? 1) - 1
            runningPerOrg[orgID] = left > 0 ? left : nil
        }
    }

    private let state = Mutex(State())
    /// Signalled whenever a task leaves (the drain and the scheduler wait on it).
    let left = AsyncSignal()
    /// Signalled when a task arrives trusted for less than the watchdog's planned wake-up, or
    /// leases are renewed (the lease watchdog waits on it).
    let leasesChanged = AsyncSignal()
    /// How long a cancel is remembered for tasks that register after it.
    private let cancelMemory: TimeInterval = 60

    var count: Int { state.withLock { $0.entries.count } }
    var taskIDs: [String] { state.withLock { Array($0.entries.keys) } }
    var orgTurns: [String: UInt64] { state.withLock { $0.orgTurns } }
    var runningPerOrg: [String: Int] { state.withLock { $0.runningPerOrg } }

    /// Registers a claimed task, trusted until `trustedUntil`, and counts a turn for its org;
    /// returns its entry.
    func add(
        _ claimed: ClaimedTask, trustedUntil: ContinuousClock.Instant = .now + .seconds(3600),
        runLimit: RunLimit? = nil
    ) -> Entry {
        let runLimit = runLimit ?? RunLimit(of: claimed)
        let (entry, canceled, earlier) = state.withLock { state -> (Entry, Bool, Bool) in
            state.turn &+= 1
            state.orgTurns[claimed.job.orgID] = state.turn
            var entry = Entry(
                jobID: claimed.job.id, orgID: claimed.job.orgID, trustedUntil: trustedUntil, runLimit: runLimit)
            let canceled = state.recentlyCanceled[claimed.job.id] != nil
            if canceled { entry.interruption = .canceled }
            if let replaced = state.entries.updateValue(entry, forKey: claimed.task.id) {
                state.leave(replaced.orgID)
            }
            state.runningPerOrg[entry.orgID, default: 0] += 1
            // Thousands of tasks arriving at once must not each make the watchdog scan them all.
            let earlier = state.watchdogWake.map { min(trustedUntil, runLimit.at) < $0 } ?? true
            return (entry, canceled, earlier)
        }
        if canceled { entry.interrupted.signal() }
        if earlier { leasesChanged.signal() }
        return entry
    }

    /// Leases of `taskIDs` were renewed: trust them until `until`.
    func renewed(_ taskIDs: some Sequence<String>, until: ContinuousClock.Instant) {
        state.withLock { state in
            for taskID in taskIDs where state.entries[taskID] != nil { state.entries[taskID]?.trustedUntil = until }
        }
        leasesChanged.signal()
    }

    /// The tasks to stop at `now`, each with its reason: `.taskEnded` when its lease is no
    /// longer trusted, `.deadline` or `.timeout` when its run limit passed; and the earliest
    /// instant at which another one will be (one pass over the tasks).
    func overdue(
        at now: ContinuousClock.Instant
    ) -> (
        tasks: [(taskID: String, reason: Interruption)], earliest: ContinuousClock.Instant?
    ) {
        state.withLock { state in
            var overdue: [(taskID: String, reason: Interruption)] = []
            var earliest: ContinuousClock.Instant?
            for (taskID, entry) in state.entries where entry.interruption == nil {
                if entry.trustedUntil <= now {
                    overdue.append((taskID, .taskEnded))
                } else if entry.runLimit.at <= now {
                    overdue.append((taskID, entry.runLimit.reason))
                } else {
                    let next = min(entry.trustedUntil, entry.runLimit.at)
                    if earliest.map({ next < $0 }) ?? true { earliest = next }
                }
            }
            return (overdue, earliest)
        }
    }

    /// The watchdog looks next at `wake` (`nil`: it is looking now).
    func watchdogWillWake(at wake: ContinuousClock.Instant?) {
        state.withLock { $0.watchdogWake = wake }
    }

    func remove(_ taskID: String) {
        state.withLock { state in
            if let removed = state.entries.removeValue(forKey: taskID) { state.leave(removed.orgID) }
        }
        left.signal()
    }

    /// The signal that fires when the task is interrupted.
    func signal(of taskID: String) -> AsyncSignal? {
        state.withLock { $0.entries[taskID]?.interrupted }
    }

    func interruption(of taskID: String) -> Interruption? {
        state.withLock { $0.entries[taskID]?.interruption }
    }

    /// Interrupts one task (the first reason given wins).
    func interrupt(taskID: String, because reason: Interruption) {
        let signal = state.withLock { state -> AsyncSignal? in
            guard let entry = state.entries[taskID] else { return nil }
            if entry.interruption == nil { state.entries[taskID]?.interruption = reason }
            return entry.interrupted
        }
        signal?.signal()
    }

    /// The job was canceled: interrupt its task here, now or when it registers.
    func jobCanceled(_ jobID: String, at now: Date) {
        let signals = state.withLock { state -> [AsyncSignal] in
            state.recentlyCanceled = state.recentlyCanceled.filter { now.timeIntervalSince($0.value) < cancelMemory }
            state.recentlyCanceled[jobID] = now
            var signals: [AsyncSignal] = []
            for (taskID, entry) in state.entries where entry.jobID == jobID {
                if entry.interruption == nil { state.entries[taskID]?.interruption = .canceled }
                signals.append(entry.interrupted)
            }
            return signals
        }
        signals.forEach { $0.signal() }
    }

    /// Interrupts every task not yet interrupted.
    func interruptAll(because reason: Interruption) {
        let signals = state.withLock { state -> [AsyncSignal] in
            for (taskID, entry) in state.entries where entry.interruption == nil {
                state.entries[taskID]?.interruption = reason
            }
            return state.entries.values.map(\.interrupted)
        }
        signals.forEach { $0.signal() }
    }

    /// Returns when no task is in flight, or after `timeout`.
    func waitUntilEmpty(timeout: Duration) async {
        let deadline = ContinuousClock.now + timeout
        while !Task.isCancelled {
            let seen = left.generation
            guard count > 0, ContinuousClock.now < deadline else { return }
            await left.wait(after: seen, timeout: deadline - ContinuousClock.now)
        }
    }
}
