import Foundation

/// How long finished jobs are kept, per terminal status (`serve --retention
/// completed=7d,failed=30d,canceled=7d`): a job whose `finished_at` is older than its status's
/// limit is deleted with its tasks, events, progress, journal and idempotency records. A
/// status without a limit is kept forever; the empty policy keeps everything.
public struct RetentionPolicy: Sendable, Hashable {
    /// The limit of each terminal status that has one, in seconds.
    public var limits: [JobStatus: TimeInterval]

    public init(limits: [JobStatus: TimeInterval] = [:]) {
        self.limits = limits
    }

    /// Whether nothing is ever deleted.
    public var keepsEverything: Bool { limits.isEmpty }

    /// The most jobs one purge transaction deletes.
    public static let batchSize = 1_000

    /// For each limited status, the instant before which its jobs' `finished_at` must fall.
    public func cutoffs(now: Date) -> [JobStatus: Date] {
        limits.mapValues { now.addingTimeInterval(-$0) }
    }

    /// Parses `status=AMOUNTunit,…`: statuses `completed`, `failed`, `canceled` (any case, each
    /// at most once), a positive whole amount, units `s`, `m`, `h`, `d`. The empty text keeps
    /// everything.
    public static func parse(_ text: String) throws(AgentJobsError) -> RetentionPolicy {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { return RetentionPolicy() }
        var limits: [JobStatus: TimeInterval] = [:]
        for part in trimmed.split(separator: ",", omittingEmptySubsequences: false) {
            let pair = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard pair.count == 2 else {
                throw .badRequest("--retention: '\(part)' is not STATUS=DURATION (e.g. completed=7d)")
            }
            let name = pair[0].trimmingCharacters(in: .whitespaces).lowercased()
            guard let status = JobStatus(rawValue: name.uppercased()), status.isTerminal else {
                throw .badRequest("--retention: '\(name)' is not a finished status (completed, failed, canceled)")
            }
            guard limits[status] == nil else { throw .badRequest("--retention: \(name) is given twice") }
            limits[status] = try duration(pair[1].trimmingCharacters(in: .whitespaces), status: name)
        }
        return RetentionPolicy(limits: limits)
    }

    /// Seconds in one of each unit.
    static let units: [Character: TimeInterval] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
    /// The longest limit: 100 years.
    static let maxSeconds: TimeInterval = 100 * 365 * 86_400

    static func duration(_ text: String, status: String) throws(AgentJobsError) -> TimeInterval {
        guard let unit = text.last, let seconds = units[unit], let amount = Int(text.dropLast()), amount > 0,
            Double(amount) * seconds <= maxSeconds
        else {
            throw .badRequest(
                "--retention: \(status)=\(text) is not a duration (a positive whole number then s, m, h or d, at most 100 years)"
            )
        }
        return Double(amount) * seconds
    }

    /// The policy as `--retention` takes it, statuses in a fixed order.
    public var description: String {
        [JobStatus.completed, .failed, .canceled].compactMap { status in
            limits[status].map { "\(status.rawValue.lowercased())=\(Self.shortest($0))" }
        }.joined(separator: ",")
    }

    static func shortest(_ seconds: TimeInterval) -> String {
        for (unit, size) in [("d", 86_400.0), ("h", 3600), ("m", 60)]
        where seconds.truncatingRemainder(dividingBy: size) == 0 {
            return "\(Int(seconds / size))\(unit)"
        }
        return "\(Int(seconds))s"
    }
}
