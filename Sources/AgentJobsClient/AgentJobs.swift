import AsyncHTTPClient
import Foundation
import OpenAPIAsyncHTTPClient
import OpenAPIRuntime

/// A client of one Agent Jobs service, for one app token.
///
/// ```swift
/// let jobs = AgentJobs(serverURL: URL(string: "http://127.0.0.1:8080")!, token: "aj_…")
/// let job = try await jobs.createJob(
///     NewJob(
///         targetChannel: .init(orgId: "org123", platform: "slack", _type: "channel", code: "C123"),
///         jobTypeId: "daily-report"))
/// ```
///
/// Every method throws `AgentJobsClientError` when the service refuses (its status and error
/// body), and the HTTP client's error when the service cannot be reached. `raw` is the
/// generated client, for anything this layer does not wrap.
public struct AgentJobs: Sendable {
    /// The generated client (swift-openapi-generator) that the methods call.
    public let raw: Client

    /// - Parameters:
    ///   - serverURL: The service's base URL, e.g. `http://127.0.0.1:8080`.
    ///   - token: An app token (`aj_<id>_<secret>`); it decides the org and the access.
    ///   - httpClient: The AsyncHTTPClient to send with (default: the shared one).
    ///   - timeout: The longest a request may take.
    public init(
        serverURL: URL, token: String, httpClient: HTTPClient = .shared, timeout: Duration = .seconds(60)
    ) {
        let (seconds, attoseconds) = timeout.components
        let transport = AsyncHTTPClientTransport(
            configuration: .init(
                client: httpClient, timeout: .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)))
        raw = Client(
            serverURL: serverURL,
            configuration: .init(dateTranscoder: .iso8601WithFractionalSeconds),
            transport: transport,
            middlewares: [BearerTokenMiddleware(token: token), ErrorBodyMiddleware()])
    }

    // MARK: Jobs

    /// Creates a job (`POST /services/agent-jobs`). With an `idempotencyKey` seen before (same
    /// body, within 24 h) it returns the first job instead of creating another.
    /// - Parameter delay: Up to this many minutes of random delay added to `scheduled_at`.
    public func createJob(_ job: NewJob, delay: Int64? = nil, idempotencyKey: String? = nil) async throws -> Job {
        try await unwrapped {
            let output = try await raw.createJob(
                query: .init(delay: delay), headers: .init(idempotencyKey: idempotencyKey), body: .json(job))
            switch output {
            case .created(let created): return try created.body.json.data
            case .ok(let replayed): return try replayed.body.json.data
            default: throw unexpected(output)
            }
        }
    }

    /// One page of the org's jobs (`GET /services/agent-jobs`), filtered and sorted as
    /// `query` says; `meta.nextAfter` is the cursor of the next page.
    public func listJobs(_ query: JobListQuery = .init()) async throws -> JobPage {
        try await unwrapped { try await raw.listJobs(query: query).ok.body.json }
    }

    /// One job with its tasks, events and progress (`GET /services/agent-jobs/{id}`).
    public func job(id: String) async throws -> Job {
        try await unwrapped { try await raw.getJob(path: .init(id: id)).ok.body.json.data }
    }

    /// Cancels a job (`DELETE /services/agent-jobs/{id}`); a running task is interrupted.
    /// Returns the service's message. A job already finished is a 409 `conflict`.
    @discardableResult
    public func cancelJob(id: String, reason: String? = nil) async throws -> String {
        try await unwrapped {
            try await raw.cancelJob(path: .init(id: id), body: .json(.init(reason: reason))).ok.body.json.message
        }
    }

    /// Records an event for a job (`POST /services/agent-jobs/{id}/events`): a follow-up that
    /// waits for one starts at once and receives it.
    /// - Parameter data: Any JSON value (`OpenAPIValueContainer`), e.g. `["text": "yes"]`.
    public func createEvent(
        jobID: String, type: String, data: OpenAPIValueContainer? = nil, idempotencyKey: String? = nil
    ) async throws -> JobEvent {
        try await unwrapped {
            let output = try await raw.createJobEvent(
                path: .init(id: jobID), headers: .init(idempotencyKey: idempotencyKey),
                body: .json(.init(_type: type, data: data)))
            switch output {
            case .created(let created): return try created.body.json.data
            case .ok(let replayed): return try replayed.body.json.data
            default: throw unexpected(output)
            }
        }
    }

    /// The org's figures (`GET /services/agent-jobs/stats`).
    public func stats() async throws -> JobStats {
        try await unwrapped { try await raw.getJobStats().ok.body.json.data }
    }

    // MARK: Schedules

    /// Creates a schedule (`POST /services/agent-schedules`).
    public func createSchedule(_ schedule: NewSchedule, idempotencyKey: String? = nil) async throws -> Schedule {
        try await unwrapped {
            let output = try await raw.createSchedule(
                headers: .init(idempotencyKey: idempotencyKey), body: .json(schedule))
            switch output {
            case .created(let created): return try created.body.json.data
            case .ok(let replayed): return try replayed.body.json.data
            default: throw unexpected(output)
            }
        }
    }

    /// One page of the org's schedules (`GET /services/agent-schedules`).
    public func listSchedules(_ query: ScheduleListQuery = .init()) async throws -> SchedulePage {
        try await unwrapped { try await raw.listSchedules(query: query).ok.body.json }
    }

    /// One schedule (`GET /services/agent-schedules/{schedule_id}`).
    public func schedule(id: String) async throws -> Schedule {
        try await unwrapped { try await raw.getSchedule(path: .init(scheduleId: id)).ok.body.json.data }
    }

    /// Changes a schedule (`PATCH /services/agent-schedules/{schedule_id}`).
    public func updateSchedule(id: String, _ change: ScheduleChange) async throws -> Schedule {
        try await unwrapped {
            try await raw.updateSchedule(path: .init(scheduleId: id), body: .json(change)).ok.body.json.data
        }
    }

    /// Pauses a schedule: no job is created until it is resumed.
    public func pauseSchedule(id: String) async throws -> Schedule {
        try await updateSchedule(id: id, ScheduleChange(paused: true))
    }

    /// Resumes a paused schedule from now (missed occurrences are not made up).
    public func resumeSchedule(id: String) async throws -> Schedule {
        try await updateSchedule(id: id, ScheduleChange(paused: false))
    }

    /// Deletes a schedule (`DELETE /services/agent-schedules/{schedule_id}`); its jobs stay.
    public func deleteSchedule(id: String) async throws {
        try await unwrapped { _ = try await raw.deleteSchedule(path: .init(scheduleId: id)).noContent }
    }

    // MARK: Errors

    /// Runs a call of the generated client, throwing the service's refusal as
    /// `AgentJobsClientError` (the runtime wraps what a middleware throws in `ClientError`).
    private func unwrapped<T>(_ call: () async throws -> T) async throws -> T {
        do {
            return try await call()
        } catch let error as ClientError {
            if let refusal = error.underlyingError as? AgentJobsClientError { throw refusal }
            throw error
        }
    }

    /// A documented success other than the one expected (never sent by the service).
    private func unexpected(_ output: Any) -> AgentJobsClientError {
        AgentJobsClientError(status: 0, code: "unexpected_response", message: "unexpected response: \(output)")
    }
}
