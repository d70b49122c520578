import Foundation

/// An `Idempotency-Key` presented with a create, and the submission's fingerprint.
public struct IdempotencyClaim: Sendable, Hashable {
    /// What the key creates: job and schedule creates keep separate keys.
    public enum Scope: String, Sendable, Hashable {
        case jobs
        case schedules
        case events
    }

    public var key: String
    public var fingerprint: String
    /// Keys older than this are forgotten.
    public var window: TimeInterval
    public var scope: Scope

    public init(key: String, fingerprint: String, window: TimeInterval = 24 * 3600, scope: Scope = .jobs) {
        self.key = key
        self.fingerprint = fingerprint
        self.window = window
        self.scope = scope
    }

    /// The key as stored (per org): a job create's key as given; a schedule create's or an
    /// event's behind a prefix no key can contain (a tab), so they never meet.
    public var storedKey: String {
        scope == .jobs ? key : "\(scope.rawValue)\t\(key)"
    }

    /// Checks the header's value: 1 to 255 visible ASCII characters (spaces allowed inside;
    /// HTTP drops them at either end).
    public static func validateKey(_ key: String) throws(AgentJobsError) {
        let scalars = key.unicodeScalars
        guard (1...255).contains(scalars.count), scalars.allSatisfy({ (0x20...0x7E).contains($0.value) }),
            scalars.first != " ", scalars.last != " "
        else { throw .badRequest("Idempotency-Key must be 1 to 255 visible ASCII characters") }
    }

    /// What a store does with this claim, given the record it holds for the same org and key.
    public func decide(existing: IdempotencyRecord?, now: Date) throws(AgentJobsError) -> IdempotencyDecision {
        guard let existing else { return .insert }
        guard now.timeIntervalSince(existing.createdAt) < window else { return .replaceExpired }
        guard existing.fingerprint == fingerprint else {
            throw .conflict("Idempotency-Key '\(key)' was already used with a different request body")
        }
        return .replay(jobID: existing.jobID)
    }
}

/// A stored idempotency key.
public struct IdempotencyRecord: Sendable, Hashable {
    public var fingerprint: String
    public var jobID: String
    public var createdAt: Date

    public init(fingerprint: String, jobID: String, createdAt: Date) {
        self.fingerprint = fingerprint
        self.jobID = jobID
        self.createdAt = createdAt
    }
}

/// The store's next step for a create that carries an `Idempotency-Key`.
public enum IdempotencyDecision: Sendable, Hashable {
    /// First use of the key: record it with the new job.
    case insert
    /// The key's record is older than the window: replace it, then create.
    case replaceExpired
    /// The same request within the window: answer with the first job (if it still exists,
    /// else create anew as after `replaceExpired`).
    case replay(jobID: String)
}
