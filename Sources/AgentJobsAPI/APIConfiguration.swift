import AgentJobsCore
import Foundation

/// Settings of the HTTP API.
public struct APIConfiguration: Sendable {
    /// Largest accepted request body; larger ones get 413.
    public var maxBodySize: Int
    /// How long an `Idempotency-Key` is remembered.
    public var idempotencyWindow: TimeInterval
    /// Picks the random part of `delay` (0...1); injectable for tests.
    public var jitter: @Sendable () -> Double
    /// Called after a job is stored (the engine uses it to wake its scheduler).
    public var onJobCreated: @Sendable (Job) -> Void
    /// Called after a job is canceled (the engine uses it to interrupt a running task).
    public var onJobCanceled: @Sendable (Job) -> Void
    /// Called after a schedule is created or changed (the engine uses it to wake its scheduler).
    public var onScheduleChanged: @Sendable (Schedule) -> Void = { _ in }
    /// Called when an event made a job's follow-up due at this instant (the engine wakes its
    /// scheduler; other nodes hear it from the store).
    public var onJobDue: @Sendable (Date) -> Void = { _ in }
    /// How often open job streams look for new entries in the store (one query per period for
    /// all streams of this process).
    public var streamPollInterval: Duration = .milliseconds(5)
    /// How long a job stream stays silent before it sends a keep-alive comment.
    public var streamKeepAlive: Duration = .seconds(15)
    /// Whether `/services/agent-jobs` is served (`false` for `serve --role worker`).
    public var servesJobsAPI: Bool

    public init(
        maxBodySize: Int = 1 << 20,
        idempotencyWindow: TimeInterval = 24 * 3600,
        jitter: @escaping @Sendable () -> Double = { Double.random(in: 0...1) },
        onJobCreated: @escaping @Sendable (Job) -> Void = { _ in },
        onJobCanceled: @escaping @Sendable (Job) -> Void = { _ in },
        servesJobsAPI: Bool = true
    ) {
        self.maxBodySize = maxBodySize
        self.idempotencyWindow = idempotencyWindow
        self.jitter = jitter
        self.onJobCreated = onJobCreated
        self.onJobCanceled = onJobCanceled
        self.servesJobsAPI = servesJobsAPI
    }
}
