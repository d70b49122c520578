import AgentJobsCore
import Foundation

/// The built-in executor of `serve --demo`: completes each task with a text built from
/// `start_prompt` and `params`.
///
/// For trying out retries and follow-ups, `params.demo` may hold `fail_attempts` (fail the
/// first N attempts), `follow_ups` (answer `follow_up` until N tasks have completed),
/// `follow_up_after_minutes`, and `sleep_ms` (work that long first).
public struct DemoExecutor: TaskExecutor {
    public init() {}

    public func run(_ task: ClaimedTask) async -> TaskOutcome {
        let document = task.document
        var knobs: JSONObject = [:]
        if case .object(let object)? = document.params["demo"] { knobs = object }
        func number(_ key: String) -> Double? {
            if case .number(let value)? = knobs[key] { return value }
            return nil
        }
        if let sleep = number("sleep_ms"), sleep > 0 {
            do {
                try await Task.sleep(for: .milliseconds(Int64(sleep)))
            } catch {
                return .failed(error: "interrupted", retryable: true)
            }
        }
        if let failures = number("fail_attempts"), Double(document.attempt) <= failures {
            return .failed(error: "demo failure on attempt \(document.attempt)", retryable: true)
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
