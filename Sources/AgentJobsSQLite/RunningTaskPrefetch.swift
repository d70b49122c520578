import AgentJobsCore
import GRDB

/// The tasks of a batch of outcomes with their jobs' states, read in a few statements before
/// the batch is applied: each outcome's fence had been a statement of its own (about a tenth
/// of the writer's time in a drain).
///
/// An entry is kept only for a task whose job no other item of the batch touches (so the
/// batch's only item for that task, too): nothing else in the batch changes those rows, so the
/// entry is what the outcome's own read would find, also when the batch is written again item
/// by item after a failure (which rolls back to before the read).
final class RunningTaskPrefetch {
    private var entries: [String: (JobRunState, TaskLeaseState)] = [:]

    /// The task `taskID` with its job's state as read before the batch, if it was read.
    func entry(_ taskID: String) -> (JobRunState, TaskLeaseState)? {
        entries[taskID]
    }

    /// Reads `taskIDs` (the batch's items' tasks, in any order, repeats allowed).
    func read(_ taskIDs: [String], _ db: Database) throws {
        var occurrences: [String: Int] = [:]
        for id in taskIDs { occurrences[id, default: 0] += 1 }
        let distinct = Array(occurrences.keys)
        var read: [(JobRunState, TaskLeaseState)] = []
        for piece in ListChunks.pieces(of: distinct.count) {
            let cursor = try Row.fetchCursor(
                db.cachedStatement(sql: Self.selects[piece.count]!), arguments: StatementArguments(distinct[piece]))
            while let row = try cursor.next() { read.append(try SQLiteJobStore.runningTask(atPositionsOf: row)) }
        }
        // The batch's items per job: a task's every item counts for its job.
        var itemsPerJob: [String: Int] = [:]
        for (state, task) in read { itemsPerJob[state.id, default: 0] += occurrences[task.id] ?? 0 }
        for entry in read where itemsPerJob[entry.0.id] == 1 { entries[entry.1.id] = entry }
    }

    /// The SELECTs, one per size of `ListChunks`.
    private static let selects = ListChunks.statements { count in
        SQLiteJobStore.runningTaskSelect + " WHERE t.id IN ("
            + Array(repeating: "?", count: count).joined(separator: ", ")
            + ")"
    }
}
