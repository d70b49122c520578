import AgentJobsCore
import ArgumentParser
import Foundation

/// `agent-jobs prune`: applies a retention policy now (what `serve --retention` does in the
/// background), or with `--dry-run` says what it would delete.
struct PruneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Delete finished jobs older than --retention now (with their tasks, events and progress).")

    @OptionGroup var options: DatabaseOptions
    @Option(help: "completed=7d,failed=30d,canceled=7d (units s, m, h, d; a status left out is kept).")
    var retention: String
    @Flag(help: "Print what would be deleted; delete nothing.") var dryRun = false

    func validate() throws {
        do {
            let policy = try RetentionPolicy.parse(retention)
            if policy.keepsEverything { throw ValidationError("--retention names no status: nothing to prune") }
        } catch let error as AgentJobsError {
            throw ValidationError(error.message)
        }
    }

    func run() async throws {
        let location = try options.location()
        let policy = try RetentionPolicy.parse(retention)
        let dryRun = self.dryRun
        try await runWithStore(location) { store in
            let cutoffs = policy.cutoffs(now: Date())
            let order = [JobStatus.completed, .failed, .canceled].filter { cutoffs[$0] != nil }
            if dryRun {
                let counts = try await store.countPurgeable(finishedBefore: cutoffs)
                for status in order {
                    print(
                        "would delete \(counts[status] ?? 0) \(status.rawValue) jobs finished before \(Timestamp.format(cutoffs[status]!))"
                    )
                }
                print("would delete \(counts.values.reduce(0, +)) jobs in all (dry run: nothing deleted)")
                return
            }
            var deleted: [JobStatus: Int] = [:]
            while true {
                let batch = try await store.purgeFinishedJobs(finishedBefore: cutoffs, limit: RetentionPolicy.batchSize)
                deleted.merge(batch, uniquingKeysWith: +)
                if batch.values.reduce(0, +) < RetentionPolicy.batchSize { break }
            }
            for status in order {
                print(
                    "deleted \(deleted[status] ?? 0) \(status.rawValue) jobs finished before \(Timestamp.format(cutoffs[status]!))"
                )
            }
            print("deleted \(deleted.values.reduce(0, +)) jobs in all")
        }
    }
}
