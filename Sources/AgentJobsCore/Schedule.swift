import Foundation

/// What a schedule does when the previous occurrence's job has not ended yet.
public enum ScheduleOverlap: String, Sendable, Hashable, Codable, CaseIterable {
    /// Create the job anyway.
    case allow
    /// Create nothing; count the occurrence in `skipped`.
    case skip
}

/// A recurring job: a cron expression in a time zone and the job each occurrence creates.
public struct Schedule: Sendable, Hashable {
    public var id: String
    public var orgID: String
    public var name: String?
    public var cron: String
    /// An IANA time zone name.
    public var timezone: String
    /// The job each occurrence creates (no `scheduled_at`, no `delay`: those come from the
    /// occurrence and `delayMinutes`).
    public var job: JobSubmission
    /// At most this many minutes of random delay after each occurrence.
    public var delayMinutes: Int
    public var overlap: ScheduleOverlap
    public var paused: Bool
    /// The next occurrence; nil while paused.
    public var nextRunAt: Date?
    /// The occurrence the last job was created for.
    public var lastRunAt: Date?
    public var lastJobID: String?
    /// Jobs created.
    public var runs: Int
    /// Occurrences that created nothing (missed while the service was down, or overlap `skip`).
    public var skipped: Int
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: String, orgID: String, name: String?, cron: String, timezone: String, job: JobSubmission,
        delayMinutes: Int, overlap: ScheduleOverlap, paused: Bool, nextRunAt: Date?, lastRunAt: Date? = nil,
        lastJobID: String? = nil, runs: Int = 0, skipped: Int = 0, createdAt: Date, updatedAt: Date
    ) {
        self.id = id
        self.orgID = orgID
        self.name = name
        self.cron = cron
        self.timezone = timezone
        self.job = job
        self.delayMinutes = delayMinutes
        self.overlap = overlap
        self.paused = paused
        self.nextRunAt = nextRunAt
        self.lastRunAt = lastRunAt
        self.lastJobID = lastJobID
        self.runs = runs
        self.skipped = skipped
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    /// The compiled expression and zone (valid for every stored schedule).
    public var rule: ScheduleRule? {
        guard let expression = try? CronExpression(cron), let zone = TimeZone(identifier: timezone) else { return nil }
        return ScheduleRule(expression: expression, timeZone: zone)
    }
}

/// A cron expression with its time zone.
public struct ScheduleRule: Sendable, Hashable {
    public var expression: CronExpression
    public var timeZone: TimeZone

    public init(expression: CronExpression, timeZone: TimeZone) {
        self.expression = expression
        self.timeZone = timeZone
    }

    /// Parses and checks `cron` and `timezone`; errors name the field.
    public static func parse(cron: String, timezone: String, now: Date) throws(AgentJobsError) -> ScheduleRule {
        try TextRules.rejectNUL(cron, field: "cron")
        let expression: CronExpression
        do { expression = try CronExpression(cron) } catch { throw .badRequest(error.message) }
        guard !timezone.isEmpty, TextRules.isStorable(timezone), let zone = TimeZone(identifier: timezone),
            zone.identifier == timezone || timezone == "UTC"
        else {
            throw .badRequest("timezone: '\(timezone)' is not an IANA time zone name (like Europe/Paris or UTC)")
        }
        let rule = ScheduleRule(expression: expression, timeZone: zone)
        guard rule.next(after: now) != nil else { throw .badRequest("cron: '\(cron)' never matches a date") }
        return rule
    }

    /// The first occurrence strictly after `instant`.
    public func next(after instant: Date) -> Date? {
        expression.next(after: instant, in: timeZone)
    }
}
