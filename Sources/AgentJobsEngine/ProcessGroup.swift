import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The process group an agent program runs in (its id is the program's pid): every process
/// the program starts belongs to it unless it leaves on purpose, so signals to the group
/// reach the whole tree.
struct ProcessGroup: Sendable {
    let id: pid_t

    /// Sends `signal` to every process of the group.
    func send(_ signal: Int32) {
        guard id > 0 else { return }
        _ = kill(-id, signal)
    }

    /// Whether a process of the group still runs (zombies do not count: an orphan killed here
    /// may never be reaped, as PID 1 of a container often does not reap).
    var hasLiveMembers: Bool {
        guard id > 0 else { return false }
        if kill(-id, 0) != 0 { return false }  // ESRCH: nobody left, not even a zombie.
        guard let entries = ProcessTable.pids() else { return true }
        return entries.contains { pid in
            guard let entry = ProcessTable.entry(of: pid) else { return false }
            return entry.group == id && entry.isLive
        }
    }

    /// Ends what is left of the group: SIGTERM now (unless `alreadyTerminated`), SIGKILL at
    /// `killAt` if anything still runs. Returns when no live process is left. Not cut short
    /// by cancellation: a task that is stopped still waits for its programs to be gone.
    func terminate(killAt: ContinuousClock.Instant, alreadyTerminated: Bool = false) async {
        guard hasLiveMembers else { return }
        await Task {
            if !alreadyTerminated { send(SIGTERM) }
            while hasLiveMembers && ContinuousClock.now < killAt {
                try? await Task.sleep(for: .milliseconds(20))
            }
            while hasLiveMembers {
                send(SIGKILL)
                try? await Task.sleep(for: .milliseconds(20))
            }
        }.value
    }
}

/// What Linux's `/proc` says of processes.
enum ProcessTable {
    /// A process's state and process group, from `/proc/PID/stat`.
    struct Entry {
        var state: Substring
        var group: pid_t
        /// Running or sleeping: not a zombie nor dead.
        var isLive: Bool { state != "Z" && state != "X" }
    }

    /// The pids of every process, or `nil` when `/proc` cannot be read.
    static func pids() -> [pid_t]? {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc"))?.compactMap { pid_t($0) }
    }

    static func entry(of pid: pid_t) -> Entry? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        // After "pid (comm) ": state, ppid, pgrp, ...
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 2, let group = pid_t(fields[2]) else { return nil }
        return Entry(state: fields[0], group: group)
    }

    /// Whether `pid` is a live process (a zombie left to PID 1 counts as gone).
    static func isRunning(_ pid: pid_t) -> Bool {
        kill(pid, 0) == 0 && entry(of: pid)?.isLive == true
    }
}
