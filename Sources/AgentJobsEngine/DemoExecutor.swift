import AgentJobsCore
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The built-in executor of `serve --demo`: completes each task with a text built from
/// `start_prompt` and `params`.
///
/// For trying out retries and follow-ups, `params.demo` may hold `fail_attempts` (fail the
/// first N attempts), `follow_ups` (answer `follow_up` until N tasks have completed),
/// `follow_up_after_minutes`, `wait_for_event_minutes` (answer `follow_up` with
/// `wait_for_event` and that `after_minutes` until a task gets an event, then complete), and
/// `sleep_ms` (work that long first).
///
/// With an execution log, each task appends `<task_id> <job_id> <attempt>` to it, and
/// `event <event_id> <task_id> <job_id>` for each event it got (one unbuffered write each, so
/// the lines survive a `kill -9`) before it runs: the executor's own record of what ran, used
/// by the multi-node and crash tests.
public struct DemoExecutor: TaskExecutor {
    let executionLog: ExecutionLog?

    public init(executionLog path: String? = nil) {
        executionLog = path.flatMap(ExecutionLog.init(path:))
    }

    public func run(_ task: ClaimedTask) async -> TaskOutcome {
        let document = task.document
        executionLog?.append("\(document.taskID) \(document.jobID) \(document.attempt)\n")
        for event in document.events {
            executionLog?.append("event \(event.id) \(document.taskID) \(document.jobID)\n")
        }
        var knobs: JSONObject = [:]
        if case .object(let object)? = document.params["demo"] { knobs = object }
        func number(_ key: String) -> Double? {
            if case .number(let value)? = knobs[key] { return value }
            return nil
        }
        if let sleep = number("sleep_ms"), sleep > 0 {
            do {
                try await Task.sleep(for: .milliseconds(Int64(min(sleep, 86_400_000))))
            } catch {
                return .failed(error: "interrupted", retryable: true)
            }
        }
        if let failures = number("fail_attempts"), Double(document.attempt) <= failures {
            return .failed(error: "demo failure on attempt \(document.attempt)", retryable: true)
        }
        if let wait = number("wait_for_event_minutes") {
            guard !document.events.isEmpty else {
                return .followUp(result: "waiting for an event", afterMinutes: wait, waitForEvent: true)
            }
            return .completed(result: "received \(document.events.map(\.type).joined(separator: ","))")
        }
        let completedBefore = document.previousTasks.filter { $0.status == .completed }.count
        if let followUps = number("follow_ups"), Double(completedBefore) < followUps {
            return .followUp(
                result: "demo follow-up \(completedBefore + 1)", afterMinutes: number("follow_up_after_minutes") ?? 0)
        }
        let prompt = document.config.startPrompt ?? "no start_prompt"
        let params = document.params.filter { $0.key != "demo" }.canonicalJSON()
        return .completed(
            result: "Demo agent ran \(document.jobTypeID) for \(document.targetChannel.platform) "
                + "\(document.targetChannel.type) \(document.targetChannel.code): \(prompt); params \(params)")
    }
}

/// An append-only file written with `O_APPEND` (each line one `write`).
final class ExecutionLog: Sendable {
    private let descriptor: Int32

    init?(path: String) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        guard descriptor >= 0 else { return nil }
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }

    func append(_ line: String) {
        var bytes = Array(line.utf8)
        _ = bytes.withUnsafeMutableBytes { write(descriptor, $0.baseAddress, $0.count) }
    }
}
