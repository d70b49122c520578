import AgentJobsCore
import Foundation
import Testing

/// Next occurrences against a table of known answers (computed independently, with Python's
/// zoneinfo), across DST in both directions, 29 February, steps, names, macros, 6 fields.
@Suite("Cron expressions and time zones")
struct CronTests {
    struct Case: Sendable, CustomStringConvertible {
        var cron: String
        var zone: String
        var after: String
        var expected: [String]
        var description: String { "\(cron) in \(zone) after \(after)" }
    }

    static let cases: [Case] = [
        .init(
            cron: "*/15 * * * *", zone: "UTC", after: "2026-03-01T12:07:30Z",
            expected: ["2026-03-01T12:15:00Z", "2026-03-01T12:30:00Z"]),
        .init(
            cron: "10-50/20 * * * *", zone: "UTC", after: "2026-03-01T12:07:30Z",
            expected: ["2026-03-01T12:10:00Z", "2026-03-01T12:30:00Z", "2026-03-01T12:50:00Z", "2026-03-01T13:10:00Z"]),
        // Friday 9:00 Paris is 08:00Z; the next weekday is Monday, after DST began (CEST).
        .init(
            cron: "0 9 * * MON-FRI", zone: "Europe/Paris", after: "2026-03-27T08:00:00Z",
            expected: ["2026-03-30T07:00:00Z", "2026-03-31T07:00:00Z"]),
        // 02:30 does not exist on 29 March in Paris: the first instant after the gap (03:00 CEST).
        .init(
            cron: "30 2 * * *", zone: "Europe/Paris", after: "2026-03-28T12:00:00Z",
            expected: ["2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"]),
        // 02:30 happens twice on 25 October in Paris: once, at the first (CEST).
        .init(
            cron: "30 2 * * *", zone: "Europe/Paris", after: "2026-10-24T12:00:00Z",
            expected: ["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"]),
        .init(
            cron: "*/30 2 * * *", zone: "Europe/Paris", after: "2026-10-25T00:00:00Z",
            expected: ["2026-10-25T00:30:00Z", "2026-10-26T01:00:00Z"]),
        .init(
            cron: "30 2 * * *", zone: "America/New_York", after: "2026-03-07T12:00:00Z",
            expected: ["2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"]),
        .init(
            cron: "30 1 * * *", zone: "America/New_York", after: "2026-10-31T12:00:00Z",
            expected: ["2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"]),
        .init(
            cron: "0 0 29 2 *", zone: "UTC", after: "2026-03-01T00:00:00Z",
            expected: ["2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"]),
        // Both day fields restricted: either qualifies (Friday 6 March, then the 13th).
        .init(
            cron: "0 0 13 * FRI", zone: "UTC", after: "2026-03-01T00:00:00Z",
            expected: ["2026-03-06T00:00:00Z", "2026-03-13T00:00:00Z", "2026-03-20T00:00:00Z"]),
        // A day field starting with `*` is unrestricted: both must match (days 1, 11, 21, 31 that are Mondays).
        .init(cron: "0 0 */10 * 1", zone: "UTC", after: "2026-03-01T00:00:00Z", expected: ["2026-05-11T00:00:00Z"]),
        .init(cron: "0 0 * * 7", zone: "UTC", after: "2026-03-02T00:00:00Z", expected: ["2026-03-08T00:00:00Z"]),
        .init(
            cron: "0 12 1 jan,Jul *", zone: "UTC", after: "2026-03-01T00:00:00Z",
            expected: ["2026-07-01T12:00:00Z", "2027-01-01T12:00:00Z"]),
        .init(cron: "@hourly", zone: "UTC", after: "2026-03-01T12:07:30Z", expected: ["2026-03-01T13:00:00Z"]),
        .init(cron: "@daily", zone: "Europe/Paris", after: "2026-03-01T12:00:00Z", expected: ["2026-03-01T23:00:00Z"]),
        .init(cron: "@midnight", zone: "UTC", after: "2026-03-01T12:00:00Z", expected: ["2026-03-02T00:00:00Z"]),
        .init(cron: "@weekly", zone: "UTC", after: "2026-03-01T00:00:00Z", expected: ["2026-03-08T00:00:00Z"]),
        .init(cron: "@monthly", zone: "UTC", after: "2026-03-01T00:00:00Z", expected: ["2026-04-01T00:00:00Z"]),
        .init(cron: "@yearly", zone: "UTC", after: "2026-03-01T00:00:00Z", expected: ["2027-01-01T00:00:00Z"]),
        .init(cron: "@annually", zone: "UTC", after: "2026-03-01T00:00:00Z", expected: ["2027-01-01T00:00:00Z"]),
        .init(
            cron: "*/20 * * * * *", zone: "UTC", after: "2026-03-01T12:07:30.500Z",
            expected: ["2026-03-01T12:07:40Z", "2026-03-01T12:08:00Z"]),
        .init(cron: "15 0 9 * * mon", zone: "UTC", after: "2026-03-01T00:00:00Z", expected: ["2026-03-02T09:00:15Z"]),
    ]

    @Test("next occurrences match the known answers", arguments: cases)
    func knownAnswers(_ testCase: Case) throws {
        let rule = try ScheduleRule.parse(
            cron: testCase.cron, timezone: testCase.zone, now: Timestamp.parse(testCase.after)!)
        var instant = try #require(Timestamp.parse(testCase.after))
        var found: [String] = []
        for _ in testCase.expected {
            instant = try #require(rule.next(after: instant))
            found.append(Timestamp.format(instant).replacingOccurrences(of: ".000Z", with: "Z"))
        }
        #expect(found == testCase.expected, "\(testCase)")
    }

    @Test(
        "bad expressions and zones are 400s naming the problem",
        arguments: [
            ("0 0 30 2 *", "UTC", "never matches"), ("60 * * * *", "UTC", "minute"), ("* * * *", "UTC", "5 fields"),
            ("@often", "UTC", "macro"), ("5-1 * * * *", "UTC", "backwards"), ("*/0 * * * *", "UTC", "step"),
            ("0 0 * * MON-XYZ", "UTC", "day of week"), ("0 25 * * *", "UTC", "hour"), ("0 0 1 13 *", "UTC", "month"),
            ("0 0 * * *", "Mars/Olympus", "timezone"), ("0 0 * * *", "", "timezone"), ("1,,2 * * * *", "UTC", "minute"),
        ])
    func refused(cron: String, zone: String, mentions: String) {
        #expect {
            _ = try ScheduleRule.parse(cron: cron, timezone: zone, now: Date())
        } throws: { error in
            guard let error = error as? AgentJobsError else { return false }
            return error.code == .badRequest && error.message.contains(mentions)
        }
    }

    @Test("civil dates from day numbers agree with the calendar across 1900-2100")
    func civilDates() {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        for day in stride(from: -25_567, through: 47_482, by: 97) {
            let parts = calendar.dateComponents([.month, .day], from: Date(timeIntervalSince1970: Double(day) * 86400))
            let computed = CronExpression.civilDate(daysSinceEpoch: day)
            #expect(computed.month == parts.month && computed.day == parts.day, "day \(day)")
        }
    }
}
