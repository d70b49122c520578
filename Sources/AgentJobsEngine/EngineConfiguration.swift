import AgentJobsCore

/// Settings of the scheduler and workers.
public struct EngineConfiguration: Sendable {
    /// Task slots of this process.
    public var concurrency: Int
    /// How long a claimed task's lease lasts without renewal.
    public var leaseDuration: Duration
    /// How often leases of in-flight tasks are renewed.
    public var heartbeatInterval: Duration
    /// On shutdown, how long in-flight tasks may run before they are handed back.
    public var drainTimeout: Duration
    /// Safety-net poll for work created by other processes (wake-ups are event driven).
    public var fallbackPoll: Duration
    /// This worker's identity in leases.
    public var workerID: String
    /// The most tasks one org may run on this worker at once; `nil`: no cap.
    public var maxRunningPerOrg: Int?
    /// How long before its lease runs out a task whose lease could not be renewed is stopped
    /// here, so that it is gone before another node may rescue and retry it (at least the
    /// command executor's kill grace plus a second; at most half the lease).
    public var leaseMargin: Duration
    /// The service's base URL as agents reach it, for the task documents' `progress_url`.
    public var publicURL: String = "http://127.0.0.1:8080"
    /// Which finished jobs the maintenance leader deletes (`serve --retention`).
    public var retention = RetentionPolicy()
    /// How often the retention purge looks for finished jobs past their limit, once it has
    /// caught up.
    public var retentionInterval: Duration = .seconds(60)
    /// The least pause between two purge batches; a batch that took longer is followed by
    /// four times its time, so that creates always get most of the database (the purge at
    /// most a fifth of it).
    public var purgePause: Duration = .milliseconds(50)

    /// The most due schedules fired in one scheduler turn (one transaction).
    var schedulesPerTurn: Int { 100 }

    /// The most jobs one claim takes (one transaction): thousands of free slots fill in turns
    /// of this many, so the first tasks start while the rest are being claimed.
    var claimBatch: Int { 256 }

    /// How often the maintenance leader folds the job counts' deltas (PostgreSQL).
    var countFoldInterval: Duration { .seconds(1) }

    /// How long a lease is trusted after it was granted or renewed.
    var trustedLease: Duration { leaseDuration - leaseMargin }

    public init(
        concurrency: Int = 16,
        leaseDuration: Duration = .seconds(15),
        heartbeatInterval: Duration = .seconds(5),
        drainTimeout: Duration = .seconds(10),
        fallbackPoll: Duration = .seconds(2),
        workerID: String = Identifier.make(prefix: "worker"),
        maxRunningPerOrg: Int? = nil,
        leaseMargin: Duration? = nil
    ) {
        self.leaseMargin = leaseMargin ?? min(.seconds(6), leaseDuration / 2)
        self.maxRunningPerOrg = maxRunningPerOrg
        self.concurrency = concurrency
        self.leaseDuration = leaseDuration
        self.heartbeatInterval = heartbeatInterval
        self.drainTimeout = drainTimeout
        self.fallbackPoll = fallbackPoll
        self.workerID = workerID
    }
}
