import AgentJobsCore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The fast path of `GET /services/agent-jobs`, the list every dashboard polls: a plain query
/// (each known parameter at most once, its value percent-decoded to UTF-8, no `+`) is read here and answered with `JobJSON`'s bytes, skipping the
/// generated server's `JSONEncoder` (a third of a page's CPU). Anything else (every malformed
/// query) goes the generated way, so each error is the one the generated server gives. The page
/// comes from the same `JobsAPIHandler.list` either way, and `ListJobsRouteTests` checks that both
/// ways answer the same request with the same bytes.
struct ListJobsRoute: Sendable {
    let handler: JobsAPIHandler

    /// The answer, or `nil` when the request is not a plain list (the generated way takes it).
    func respond(to request: Request) async throws -> Response? {
        guard let parameters = Self.parameters(in: request.uri.query)
        else { return nil }
        let (query, page) = try await handler.list(parameters)
        return Response(
            status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
            body: .init(byteBuffer: JobJSON.listEnvelope(page, query: query, orgID: query.orgID)))
    }

    /// The parameters of a plain query (no query: none), or `nil` for any other.
    static func parameters(in query: String?) -> JobQueryParser.Parameters? {
        var parameters = JobQueryParser.Parameters()
        guard let query, !query.isEmpty else { return parameters }
        // Bytes a decoder might read otherwise (`+` for a space in a form, controls, non-ASCII).
        guard query.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "+") }) else { return nil }
        var seen = Set<Substring>()
        for pair in query.split(separator: "&", omittingEmptySubsequences: false) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[1].isEmpty, !parts[1].contains("="), seen.insert(parts[0]).inserted,
                let value = parts[1].removingPercentEncoding
            else { return nil }
            if let field = texts[parts[0]] {
                parameters[keyPath: field] = value
            } else if let field = times[parts[0]], let time = Timestamp.parse(value) {
                parameters[keyPath: field] = time
            } else if let field = integers[parts[0]], let number = integer(value) {
                parameters[keyPath: field] = number
            } else {
                return nil
            }
        }
        return parameters
    }

    private static let texts: [Substring: any WritableKeyPath<JobQueryParser.Parameters, String?> & Sendable] = [
        "status": \.status, "job_type_id": \.jobTypeID, "channel_code": \.channelCode, "schedule_id": \.scheduleID,
        "sort": \.sort, "after": \.after,
    ]
    private static let times: [Substring: any WritableKeyPath<JobQueryParser.Parameters, Date?> & Sendable] = [
        "scheduled_at": \.scheduledAt, "scheduled_at_gte": \.scheduledAtGte, "scheduled_at_lte": \.scheduledAtLte,
        "created_at_gte": \.createdAtGte, "created_at_lte": \.createdAtLte,
    ]
    private static let integers: [Substring: any WritableKeyPath<JobQueryParser.Parameters, Int64?> & Sendable] = [
        "limit": \.limit, "offset": \.offset,
    ]

    /// 1–18 decimal digits (the generated server reads more, and signs, its own way).
    private static func integer(_ text: String) -> Int64? {
        guard (1...18).contains(text.utf8.count), text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
            return nil
        }
        return Int64(text)
    }
}
