import Foundation

/// A cron expression: 5 fields (minute, hour, day of month, month, day of week) or 6 with
/// seconds first. Fields take `*`, lists, ranges and steps (`*/15`, `10-50/10`, `5/20` = from
/// 5 on), month and day names (`JAN`, `MON-FRI`, any case); Sunday is `0` or `7`. Macros:
/// `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`, `@midnight`, `@hourly`.
///
/// When both day of month and day of week are restricted (neither starts with `*`), a day
/// matching either qualifies, as in Vixie cron; otherwise a day must match both.
public struct CronExpression: Sendable, Hashable {
    /// Allowed values per field, as sorted arrays (seconds, minutes, hours, days of month,
    /// months, days of week 0–6 with 0 = Sunday).
    let seconds: [Int]
    let minutes: [Int]
    let hours: [Int]
    let daysOfMonth: Set<Int>
    let months: Set<Int>
    let daysOfWeek: Set<Int>
    /// Both day fields restricted: a day matching either qualifies.
    let eitherDay: Bool

    private static let macros = [
        "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
        "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
    ]
    private static let monthNames = [
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ]
    private static let dayNames = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]

    /// Parses `text`; the error names the field and what is wrong with it.
    public init(_ text: String) throws(AgentJobsError) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let expanded = Self.macros[trimmed.lowercased()] ?? trimmed
        if expanded.hasPrefix("@") {
            throw .badRequest(
                "cron: unknown macro '\(trimmed)' (allowed: @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly)"
            )
        }
        var fields = expanded.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard fields.count == 5 || fields.count == 6 else {
            throw .badRequest(
                "cron must have 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first (got \(fields.count))"
            )
        }
        if fields.count == 5 { fields.insert("0", at: 0) }
        seconds = try Self.parse(fields[0], name: "second", range: 0...59).sorted()
        minutes = try Self.parse(fields[1], name: "minute", range: 0...59).sorted()
        hours = try Self.parse(fields[2], name: "hour", range: 0...23).sorted()
        daysOfMonth = try Self.parse(fields[3], name: "day of month", range: 1...31)
        months = try Self.parse(fields[4], name: "month", range: 1...12, names: Self.monthNames, firstName: 1)
        let weekdays = try Self.parse(fields[5], name: "day of week", range: 0...7, names: Self.dayNames, firstName: 0)
        daysOfWeek = Set(weekdays.map { $0 % 7 })
        eitherDay = !fields[3].hasPrefix("*") && !fields[5].hasPrefix("*")
    }

    private static func parse(
        _ field: String, name: String, range: ClosedRange<Int>, names: [String] = [], firstName: Int = 0
    ) throws(AgentJobsError) -> Set<Int> {
        func value(_ text: Substring) throws(AgentJobsError) -> Int {
            if let number = Int(text), range.contains(number) { return number }
            if let index = names.firstIndex(of: text.uppercased()) { return index + firstName }
            throw .badRequest(
                "cron: '\(text)' is not a valid \(name) (\(range.lowerBound)-\(range.upperBound)\(names.isEmpty ? "" : " or a name"))"
            )
        }
        var values = Set<Int>()
        for part in field.split(separator: ",", omittingEmptySubsequences: false) {
            let pieces = part.split(separator: "/", omittingEmptySubsequences: false)
            guard pieces.count <= 2, !pieces[0].isEmpty else {
                throw .badRequest("cron: '\(part)' is not a valid \(name) field")
            }
            var step = 1
            if pieces.count == 2 {
                guard let parsed = Int(pieces[1]), parsed > 0, parsed <= range.upperBound + 1 else {
                    throw .badRequest(
                        "cron: step '\(pieces[1])' of the \(name) field must be 1-\(range.upperBound + 1)")
                }
                step = parsed
            }
            var low = range.lowerBound
            var high = range.upperBound
            if pieces[0] != "*" {
                let bounds = pieces[0].split(separator: "-", omittingEmptySubsequences: false)
                guard bounds.count <= 2 else { throw .badRequest("cron: '\(part)' is not a valid \(name) field") }
                low = try value(bounds[0])
                high = bounds.count == 2 ? try value(bounds[1]) : (pieces.count == 2 ? range.upperBound : low)
                guard low <= high else {
                    throw .badRequest("cron: the \(name) range '\(pieces[0])' runs backwards")
                }
            }
            values.formUnion(stride(from: low, through: high, by: step))
        }
        return values
    }

    /// Whether the civil date (year, month 1–12, day 1–31, weekday 0–6 from Sunday) qualifies.
    func matches(month: Int, day: Int, weekday: Int) -> Bool {
        guard months.contains(month) else { return false }
        let byDay = daysOfMonth.contains(day)
        let byWeekday = daysOfWeek.contains(weekday)
        return eitherDay ? (byDay || byWeekday) : (byDay && byWeekday)
    }

    /// How far ahead `next(after:in:)` looks: far enough for 29 February on a given weekday.
    static let horizonDays = 366 * 29

    /// The first occurrence strictly after `instant`, in `timeZone`'s wall clock, or `nil` when
    /// the expression never matches. An occurrence in a skipped hour (DST starts) runs at the
    /// first instant after the gap; one in a repeated hour (DST ends) runs once, at its first
    /// instant.
    public func next(after instant: Date, in timeZone: TimeZone) -> Date? {
        // Work in "civil seconds": the wall-clock reading, counted as if it were UTC.
        let after = instant.timeIntervalSince1970
        let startCivil = after.rounded(.down) + Double(timeZone.secondsFromGMT(for: instant))
        // A day earlier: near a transition, a civil time before the start can be a later instant.
        let firstDay = Int((startCivil / 86400).rounded(.down)) - 1
        for dayNumber in firstDay..<(firstDay + Self.horizonDays) {
            let date = Self.civilDate(daysSinceEpoch: dayNumber)
            guard matches(month: date.month, day: date.day, weekday: ((dayNumber % 7) + 11) % 7) else { continue }
            let dayStart = Double(dayNumber) * 86400
            let steadyOffset = Self.steadyOffset(around: dayStart, in: timeZone)
            for hour in hours {
                let hourStart = dayStart + Double(hour) * 3600
                if let offset = steadyOffset, hourStart + 3599 - offset <= after { continue }
                for minute in minutes {
                    for second in seconds {
                        let civil = hourStart + Double(minute) * 60 + Double(second)
                        let candidate =
                            steadyOffset.map { civil - $0 }
                            ?? Self.instant(ofCivil: civil, in: timeZone).timeIntervalSince1970
                        if candidate > after { return Date(timeIntervalSince1970: candidate) }
                    }
                }
            }
        }
        return nil
    }

    /// The zone's offset throughout the two days either side of `civilDay`, or nil when it
    /// changes there (then each reading is converted on its own).
    private static func steadyOffset(around civilDay: TimeInterval, in timeZone: TimeZone) -> TimeInterval? {
        let from = Date(timeIntervalSince1970: civilDay - 2 * 86400)
        let to = Date(timeIntervalSince1970: civilDay + 3 * 86400)
        let offset = timeZone.secondsFromGMT(for: from)
        guard timeZone.secondsFromGMT(for: to) == offset else { return nil }
        if let transition = timeZone.nextDaylightSavingTimeTransition(after: from), transition < to { return nil }
        return TimeInterval(offset)
    }

    /// The proleptic Gregorian month and day of a day counted from 1970-01-01 (H. Hinnant's
    /// `civil_from_days`).
    public static func civilDate(daysSinceEpoch: Int) -> (year: Int, month: Int, day: Int) {
        let z = daysSinceEpoch + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// The instant a wall-clock reading names in `timeZone`: the earlier one when the reading
    /// occurs twice, the end of the gap when it is skipped.
    static func instant(ofCivil civil: TimeInterval, in timeZone: TimeZone) -> Date {
        let offsetBefore = Double(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: civil - 86400)))
        let offsetAfter = Double(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: civil + 86400)))
        let candidates = Set([civil - offsetBefore, civil - offsetAfter]).sorted()
        for candidate in candidates
        where Double(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: candidate))) == civil - candidate {
            return Date(timeIntervalSince1970: candidate)
        }
        // Skipped: the first instant after the gap is the transition itself.
        let early = Date(timeIntervalSince1970: candidates[0])
        return timeZone.nextDaylightSavingTimeTransition(after: early - 1) ?? early
    }
}
