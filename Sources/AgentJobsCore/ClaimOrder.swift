import Foundation

/// An org with due work, as a store finds it.
public struct DueOrg: Sendable, Hashable {
    public var orgID: String
    /// Its earliest due job.
    public var firstDue: Date

    public init(orgID: String, firstDue: Date) {
        self.orgID = orgID
        self.firstDue = firstDue
    }
}

/// What a claim may take: free slots, and how the orgs share them.
public struct ClaimRequest: Sendable, Hashable {
    /// Free slots: the most tasks to start.
    public var limit: Int
    public var now: Date
    /// The worker that will hold the leases.
    public var worker: String
    public var leaseUntil: Date
    /// When each org was last served (higher: more recently); unknown orgs go first.
    public var orgTurns: [String: UInt64]
    /// Tasks each org already runs on this worker.
    public var runningPerOrg: [String: Int]
    /// The most tasks one org may run on this worker; `nil`: no cap.
    public var maxRunningPerOrg: Int?

    public init(
        limit: Int, now: Date, worker: String, leaseUntil: Date, orgTurns: [String: UInt64] = [:],
        runningPerOrg: [String: Int] = [:], maxRunningPerOrg: Int? = nil
    ) {
        self.limit = limit
        self.now = now
        self.worker = worker
        self.leaseUntil = leaseUntil
        self.orgTurns = orgTurns
        self.runningPerOrg = runningPerOrg
        self.maxRunningPerOrg = maxRunningPerOrg
    }
}

/// The claim-order policy, the same for every store: orgs take turns (the least recently
/// served first, then the one waiting longest), share the free slots evenly, and never exceed
/// their cap; within an org, jobs go by due time, then `job_id` (the store's `ORDER BY`).
///
/// A store asks for `firstRound()`, fetches (and on PostgreSQL locks) that many due jobs of
/// each org, reports what it got, asks for `secondRound(taken:)` to hand leftover slots to the
/// orgs that had more, and finally `interleave`s the rows so orgs alternate in start order.
public struct ClaimOrder: Sendable {
    /// Orgs in serving order with the most each may still take.
    public let orgs: [(orgID: String, allowance: Int)]
    public let limit: Int

    public init(due: [DueOrg], request: ClaimRequest) {
        let ranked = due.sorted { left, right in
            let l = request.orgTurns[left.orgID] ?? 0
            let r = request.orgTurns[right.orgID] ?? 0
            if l != r { return l < r }
            if left.firstDue != right.firstDue { return left.firstDue < right.firstDue }
            return left.orgID < right.orgID
        }
        let limit = max(0, request.limit)
        self.limit = limit
        orgs = ranked.compactMap { org in
            var allowance = limit
            if let cap = request.maxRunningPerOrg {
                allowance = min(allowance, max(0, cap - (request.runningPerOrg[org.orgID] ?? 0)))
            }
            return allowance > 0 ? (org.orgID, allowance) : nil
        }
    }

    /// An even share of the slots for each org, in serving order (the first orgs get the
    /// remainder; with more orgs than slots, the last orgs get none).
    public func firstRound() -> [(orgID: String, count: Int)] {
        guard !orgs.isEmpty, limit > 0 else { return [] }
        let share = limit / orgs.count
        let extra = limit % orgs.count
        return orgs.enumerated().compactMap { index, org in
            let count = min(org.allowance, share + (index < extra ? 1 : 0))
            return count > 0 ? (org.orgID, count) : nil
        }
    }

    /// Leftover slots for the orgs that filled their first-round share, in serving order.
    public func secondRound(taken: [String: Int]) -> [(orgID: String, count: Int)] {
        var left = limit - taken.values.reduce(0, +)
        let asked = Dictionary(firstRound().map { ($0.orgID, $0.count) }, uniquingKeysWith: +)
        var round: [(orgID: String, count: Int)] = []
        for org in orgs where left > 0 {
            let got = taken[org.orgID] ?? 0
            guard got >= (asked[org.orgID] ?? 0) else { continue }  // It had no more due jobs.
            let count = min(left, org.allowance - got)
            if count > 0 {
                round.append((org.orgID, count))
                left -= count
            }
        }
        return round
    }

    /// The claimed rows in start order: one of each org per round, in serving order.
    public func interleave<Row>(_ rows: [String: [Row]]) -> [Row] {
        var ordered: [Row] = []
        let queues = orgs.map { rows[$0.orgID] ?? [] }
        let longest = queues.map(\.count).max() ?? 0
        for round in 0..<longest {
            for queue in queues where round < queue.count { ordered.append(queue[round]) }
        }
        return Array(ordered.prefix(limit))
    }
}
