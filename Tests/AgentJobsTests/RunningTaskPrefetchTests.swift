import AgentJobsCore
import Foundation
import GRDB
import Testing

@testable import AgentJobsSQLite

/// The outcomes' group commit reads a batch's tasks ahead (`RunningTaskPrefetch`): only tasks
/// that no other item of the batch touches, so that each outcome is fenced as if written alone.
@Suite("SQLite: outcomes read ahead for a batch")
struct RunningTaskPrefetchTests {
    /// A job whose first task failed and whose retry is running: both tasks, one job.
    func jobWithRetryRunning(_ env: TestEnvironment, _ store: SQLiteJobStore) async throws -> (String, String) {
        let job = try await create(env, retries: 1)
        let first = try #require(try await claim(env).first)
        _ = try await store.finishTask(
            taskID: first.task.id, worker: "w1", outcome: .failed(error: "x", retryable: true), now: env.clock.now())
        let retry = try #require(try await claim(env).first)
        #expect(retry.job.id == job.id)
        return (first.task.id, retry.task.id)
    }

    /// A job due now (`TaskQueueTests.makeJob`), retried at once after a retryable failure.
    func create(_ env: TestEnvironment, retries: Int = 0) async throws -> Job {
        try await TaskQueueTests().makeJob(
            env, config: JobConfigOverrides(maxTaskRetries: retries, taskRetryInterval: 0))
    }

    func claim(_ env: TestEnvironment) async throws -> [ClaimedTask] {
        try await TaskQueueTests().claim(env)
    }

    @Test("a task repeated in the batch, or whose job another item touches, is not read ahead")
    func onlyLoneTasks() async throws {
        let env = try await TestEnvironment.make(.sqlite)
        let store = try #require(env.store as? SQLiteJobStore)
        let (failed, retry) = try await jobWithRetryRunning(env, store)
        _ = try await create(env)
        let other = try #require(try await claim(env).first).task.id
        let lone = try await store.pool.read { db in
            let prefetch = RunningTaskPrefetch()
            try prefetch.read([retry, other, "task_unknown"], db)
            return (prefetch.entry(retry)?.1.status, prefetch.entry(other)?.1.status, prefetch.entry("task_unknown"))
        }
        #expect(lone.0 == .running)
        #expect(lone.1 == .running)
        #expect(lone.2 == nil)
        let shared = try await store.pool.read { db in
            let prefetch = RunningTaskPrefetch()
            try prefetch.read([other, failed, retry, other], db)
            return [failed, retry, other].map { prefetch.entry($0) == nil }
        }
        #expect(shared == [true, true, true])
        // A task whose job's other task comes twice: that job is touched by three items.
        let sharedWithRepeat = try await store.pool.read { db in
            let prefetch = RunningTaskPrefetch()
            try prefetch.read([failed, retry, retry, other], db)
            return [failed, retry, other].map { prefetch.entry($0) == nil }
        }
        #expect(sharedWithRepeat == [true, true, false])
    }

    @Test("two outcomes of one task in one batch: the first is recorded, the second is fenced out")
    func repeatedOutcome() async throws {
        let env = try await TestEnvironment.make(.sqlite)
        let store = try #require(env.store as? SQLiteJobStore)
        _ = try await create(env)
        _ = try await create(env)
        let claimed = try await claim(env)
        #expect(claimed.count == 2)
        let now = env.clock.now()
        let requests = [
            FinishRequest(taskID: claimed[0].task.id, worker: "w1", outcome: .completed(result: "first"), now: now),
            FinishRequest(taskID: claimed[1].task.id, worker: "w1", outcome: .completed(result: "other"), now: now),
            FinishRequest(
                taskID: claimed[0].task.id, worker: "w1", outcome: .failed(error: "late", retryable: false), now: now),
        ]
        let outputs = try await store.pool.write { db in
            try SQLiteWrite.run(db) { write in
                try write.runningTasks.read(requests.map(\.taskID), db)
                return GroupCommit<FinishRequest, FinishedTask?>.writeBatch(
                    requests, write, needsSavepoint: { _ in true },
                    apply: { write, request in try SQLiteJobStore.finish(request, write) })
            }
        }
        #expect(try outputs.map { try $0.get()?.jobStatus } == [JobStatus.completed, .completed, nil])
        let job = try #require(try await store.job(id: claimed[0].job.id))
        #expect(job.result == "first")
        #expect(job.tasks.map(\.status) == [.completed])
        let counts = try await store.jobCountsByStatus()
        #expect(counts[.completed] == 2)
        #expect(counts[.failed] ?? 0 == 0)
    }
}
