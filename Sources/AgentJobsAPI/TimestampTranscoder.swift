import AgentJobsCore
import Foundation
import OpenAPIRuntime

/// The API's one place for time formats: RFC 3339 in (zone required), UTC milliseconds out.
struct TimestampTranscoder: DateTranscoder {
    func encode(_ date: Date) throws -> String { Timestamp.format(date) }

    func decode(_ text: String) throws -> Date {
        guard let date = Timestamp.parse(text) else { throw InvalidTimestamp(text: text) }
        return date
    }
}

/// A timestamp that is not RFC 3339 with a zone; the error middleware names the field it came from.
struct InvalidTimestamp: Error {
    var text: String
}
