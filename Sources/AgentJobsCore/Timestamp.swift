import Foundation

/// RFC 3339 timestamps as the API speaks them: input must carry a zone (`Z` or `±hh:mm`),
/// fractional seconds are accepted; output is UTC with milliseconds (`2026-01-02T03:04:05.678Z`).
///
/// Stored times are whole milliseconds since the Unix epoch, so what is written is what is read.
public enum Timestamp {
    /// Parses an RFC 3339 date-time; `nil` when malformed or without a zone.
    public static func parse(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        var index = 0
        func digits(_ count: Int) -> Int? {
            guard index + count <= bytes.count else { return nil }
            var value = 0
            for offset in 0..<count {
                let byte = bytes[index + offset]
                guard byte >= 0x30, byte <= 0x39 else { return nil }
                value = value * 10 + Int(byte - 0x30)
            }
            index += count
            return value
        }
        func expect(_ characters: String) -> Bool {
            guard index < bytes.count, characters.utf8.contains(bytes[index]) else { return false }
            index += 1
            return true
        }
        guard let year = digits(4), expect("-"), let month = digits(2), expect("-"),
            let day = digits(2), expect("Tt "), let hour = digits(2), expect(":"),
            let minute = digits(2), expect(":"), let second = digits(2)
        else { return nil }
        var fraction = 0.0
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            var scale = 0.1
            let start = index
            while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 {
                fraction += Double(bytes[index] - 0x30) * scale
                scale /= 10
                index += 1
            }
            guard index > start else { return nil }
        }
        var offsetSeconds = 0
        if expect("Zz") {
            offsetSeconds = 0
        } else if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
            let sign = bytes[index] == UInt8(ascii: "-") ? -1 : 1
            index += 1
            guard let offsetHours = digits(2), expect(":"), let offsetMinutes = digits(2),
                offsetHours < 24, offsetMinutes < 60
            else { return nil }
            offsetSeconds = sign * (offsetHours * 3600 + offsetMinutes * 60)
        } else {
            return nil
        }
        guard index == bytes.count,
            (1...12).contains(month), day >= 1, day <= daysInMonth(year: year, month: month),
            hour < 24, minute < 60, second <= 60
        else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        let seconds = Double(days * 86_400 + hour * 3600 + minute * 60 + min(second, 59) - offsetSeconds)
        return Date(timeIntervalSince1970: seconds + fraction)
    }

    /// Formats as UTC with milliseconds.
    public static func format(_ date: Date) -> String {
        let totalMillis = millis(date)
        let millisPart = Int(((totalMillis % 1000) + 1000) % 1000)
        let totalSeconds = (totalMillis - Int64(millisPart)) / 1000
        var days = Int(totalSeconds / 86_400)
        var secondOfDay = Int(totalSeconds % 86_400)
        if secondOfDay < 0 {
            secondOfDay += 86_400
            days -= 1
        }
        let (year, month, day) = civilFromDays(days)
        if (0...9999).contains(year) {
            // Digits written in place: the interpolation below cost a create about 12,000
            // instructions for its seven times (`bench/callgrind.py`).
            return String(unsafeUninitializedCapacity: 24) { text in
                func digits(_ value: Int, _ width: Int, at start: Int, then separator: UInt8) {
                    var rest = value
                    for position in stride(from: start + width - 1, through: start, by: -1) {
                        text[position] = UInt8(ascii: "0") + UInt8(rest % 10)
                        rest /= 10
                    }
                    text[start + width] = separator
                }
                digits(year, 4, at: 0, then: UInt8(ascii: "-"))
                digits(month, 2, at: 5, then: UInt8(ascii: "-"))
                digits(day, 2, at: 8, then: UInt8(ascii: "T"))
                digits(secondOfDay / 3600, 2, at: 11, then: UInt8(ascii: ":"))
                digits(secondOfDay / 60 % 60, 2, at: 14, then: UInt8(ascii: ":"))
                digits(secondOfDay % 60, 2, at: 17, then: UInt8(ascii: "."))
                digits(millisPart, 3, at: 20, then: UInt8(ascii: "Z"))
                return 24
            }
        }
        func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(secondOfDay / 3600, 2)):"
            + "\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2)).\(pad(millisPart, 3))Z"
    }

    /// Whole milliseconds since the Unix epoch (rounded down).
    public static func millis(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
    }

    /// The date for whole milliseconds since the Unix epoch.
    public static func date(millis: Int64) -> Date {
        Date(timeIntervalSince1970: Double(millis) / 1000)
    }

    /// The latest instant a store holds: 9999-12-31T23:59:59.999Z.
    public static let latest = Date(timeIntervalSince1970: 253_402_300_799.999)

    /// `date` plus `minutes`, never later than `latest` nor earlier than `date` (a negative,
    /// non-finite or huge number of minutes cannot trap or wrap).
    public static func adding(minutes: Double, to date: Date) -> Date {
        guard minutes.isFinite else { return minutes > 0 ? max(date, latest) : date }
        let seconds = max(0, minutes) * 60
        guard seconds < latest.timeIntervalSince(date) else { return max(date, latest) }
        return date.addingTimeInterval(seconds)
    }

    /// `date` truncated to whole milliseconds, as it will be stored.
    public static func truncated(_ date: Date) -> Date {
        self.date(millis: millis(date))
    }

    private static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    // Howard Hinnant's days_from_civil / civil_from_days.
    private static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    private static func civilFromDays(_ days: Int) -> (Int, Int, Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
