import AgentJobsCore
import Foundation
import Testing

/// The claim-order policy both stores follow.
@Suite("Claim order: turns, shares, caps")
struct ClaimOrderTests {
    let t0 = Timestamp.parse("2026-03-01T12:00:00Z")!

    func request(
        limit: Int, turns: [String: UInt64] = [:], running: [String: Int] = [:], cap: Int? = nil
    )
        -> ClaimRequest
    {
        ClaimRequest(
            limit: limit, now: t0, worker: "w", leaseUntil: t0, orgTurns: turns, runningPerOrg: running,
            maxRunningPerOrg: cap)
    }

    func due(_ org: String, _ offset: TimeInterval) -> DueOrg { DueOrg(orgID: org, firstDue: t0 + offset) }

    @Test("orgs served least recently first, then by who waits longest, then by id")
    func ranking() {
        let order = ClaimOrder(
            due: [due("a", -10), due("b", -50), due("c", -50), due("d", -90)],
            request: request(limit: 8, turns: ["d": 7, "a": 0]))
        #expect(order.orgs.map(\.orgID) == ["b", "c", "a", "d"])
    }

    @Test("an even share per org, the remainder to the first; more orgs than slots: the last get none")
    func shares() {
        let three = ClaimOrder(due: [due("a", -3), due("b", -2), due("c", -1)], request: request(limit: 7))
        #expect(three.firstRound().map(\.count) == [3, 2, 2])
        let many = ClaimOrder(due: [due("a", -3), due("b", -2), due("c", -1)], request: request(limit: 2))
        #expect(many.firstRound().map(\.orgID) == ["a", "b"])
    }

    @Test("leftover slots go to the orgs that had more, in serving order")
    func secondRound() {
        let order = ClaimOrder(due: [due("a", -3), due("b", -2), due("c", -1)], request: request(limit: 9))
        // a had only 1 due job; b and c filled their 3.
        let second = order.secondRound(taken: ["a": 1, "b": 3, "c": 3])
        #expect(second.map(\.orgID) == ["b"] && second.map(\.count) == [2])
        #expect(order.secondRound(taken: ["a": 3, "b": 3, "c": 3]).isEmpty)
    }

    @Test("the per-org cap counts tasks already running; an org at its cap is skipped")
    func caps() {
        let order = ClaimOrder(
            due: [due("a", -3), due("b", -2)], request: request(limit: 10, running: ["a": 2, "b": 5], cap: 5))
        #expect(order.orgs.map(\.orgID) == ["a"])
        #expect(order.firstRound().map(\.count) == [3])
        #expect(order.secondRound(taken: ["a": 3]).isEmpty)
    }

    @Test("interleave: one row of each org per round, never more than the limit")
    func interleave() {
        let order = ClaimOrder(due: [due("a", -3), due("b", -2)], request: request(limit: 4))
        #expect(order.interleave(["a": ["a1", "a2", "a3"], "b": ["b1"]]) == ["a1", "b1", "a2", "a3"])
        let small = ClaimOrder(due: [due("a", -3), due("b", -2)], request: request(limit: 2))
        #expect(small.interleave(["a": ["a1", "a2"], "b": ["b1", "b2"]]) == ["a1", "b1"])
    }
}
