import Foundation

/// Durable storage for orgs, tokens, job types and jobs. One implementation per database;
/// the API and the engine know the store only through this protocol.
///
/// Every method that returns has made its writes durable. Errors meant for clients are
/// `AgentJobsError`s (for example `.conflict` for a duplicate id).
public protocol JobStore: ScheduleStore {
    /// Creates or upgrades the schema.
    func migrate() async throws
    /// Succeeds when the database answers and could take a write now.
    func ping() async throws
    /// The client error for a failure of this store's driver that is temporary (the database
    /// is busy or unreachable), answered as 503 with `Retry-After`; nil for any other error.
    func unavailability(of error: any Error) -> AgentJobsError?

    func createOrganization(_ organization: Organization) async throws
    func organization(id: String) async throws -> Organization?
    /// Every organization, by id.
    func organizations() async throws -> [Organization]

    func createToken(_ token: AppToken) async throws
    func token(id: String) async throws -> AppToken?
    func tokens(orgID: String) async throws -> [AppToken]
    /// Marks the token revoked; `false` when there is no such token.
    func revokeToken(id: String, at date: Date) async throws -> Bool

    func createJobType(_ jobType: JobType) async throws
    func jobType(id: String) async throws -> JobType?
    /// Every job type, by id.
    func jobTypes() async throws -> [JobType]

    /// Stores a job, or with a claim that was seen before returns the first job
    /// (`.conflict` when the key was used with a different body).
    ///
    /// With `confirmingToken`, the id of the app token the request came with, the create
    /// happens only if that token exists unrevoked when the write is made; otherwise it throws
    /// `.unauthorized` having written nothing. The API passes it when it authenticated the
    /// request from tokens it verified before (`VerifiedTokens`), so that a revocation
    /// committed before the request, on any node, still fails it.
    func createJob(
        _ job: NewJob, idempotency: IdempotencyClaim?, at date: Date, confirmingToken: String?
    ) async throws -> CreateJobOutcome
    /// The job with its tasks.
    func job(id: String) async throws -> Job?
    func listJobs(_ query: JobQuery) async throws -> JobPage
    /// Cancels a non-terminal job of `orgID` atomically.
    func cancelJob(id: String, orgID: String, reason: String?, at date: Date) async throws -> CancelOutcome

    /// Records an event for job `jobID` of `orgID` with `JobStateMachine.recordEvent`, under the
    /// job's row lock, with its journal entry; with a claim seen before, returns the first event
    /// (`.conflict` when the key was used with a different body).
    func recordEvent(
        _ event: EventSubmission, jobID: String, orgID: String, idempotency: IdempotencyClaim?, at date: Date
    ) async throws -> RecordEventOutcome
    /// Records a progress report of task `taskID` of job `jobID` if `tokenHash` is that task's
    /// progress token hash and the task is `RUNNING`, under the job's row lock, with its
    /// journal entry.
    func recordProgress(
        jobID: String, taskID: String, tokenHash: String, message: String?, data: JSONValue, at date: Date
    ) async throws -> RecordProgressOutcome
    /// Up to `limit` entries of the job's journal after entry `after`, in id order.
    func streamEntries(jobID: String, after: Int64, limit: Int) async throws -> [StreamEntry]
    /// The id of the latest journal entry of each of `jobIDs` that has one.
    func latestStreamEntries(jobIDs: [String]) async throws -> [String: Int64]
    /// The organization's dashboard figures at `now` (`JobStatistics.assemble`).
    func statistics(orgID: String, now: Date) async throws -> JobStatistics
}

extension JobStore {
    public func unavailability(of error: any Error) -> AgentJobsError? { nil }

    /// A create that needs no token confirmed (the scheduler's, a test's).
    public func createJob(
        _ job: NewJob, idempotency: IdempotencyClaim?, at date: Date
    ) async throws
        -> CreateJobOutcome
    {
        try await createJob(job, idempotency: idempotency, at: date, confirmingToken: nil)
    }
}
