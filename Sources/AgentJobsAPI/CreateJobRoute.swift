import AgentJobsCore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The fast path of `POST /services/agent-jobs`, the hottest request: a plain create (no
/// query but `delay=N`, a body that `CreateJobBody` reads; `APITransport` checks `Accept`) is
/// read straight from the collected body by `JSONParser`, without `Codable`, and answered with `JobJSON`'s bytes, skipping the
/// generated server's body streams and its `JSONEncoder`. Anything else (every malformed
/// request) goes the generated way, so each error is the one the generated server gives.
/// The job is made by the same `JobsAPIHandler.create` either way, and `JobJSONTests`
/// checks that both ways answer the same request with the same bytes.
struct CreateJobRoute: Sendable {
    static let path = "/services/agent-jobs"

    let handler: JobsAPIHandler

    /// The answer, or `nil` when the request is not a plain create (the generated way takes it).
    func respond(to request: Request) async throws -> Response? {
        guard let delay = Self.delay(in: request.uri.query),
            let body = try? await request.body.collect(upTo: .max),
            let submission = CreateJobBody.submission(body, delay: delay)
        else { return nil }
        var idempotencyKey: String?
        if let raw = request.headers.value(of: .idempotencyKey) {
            // `OpaqueHeaderMiddleware` percent-encoded it for the generated server; undo that.
            guard let key = raw.removingPercentEncoding else { return nil }
            idempotencyKey = key
        }
        let (job, created) = try await handler.create(submission, idempotencyKey: idempotencyKey)
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        headers[.location] = handler.location(of: job)
        return Response(
            status: created ? .created : .ok, headers: headers, body: .init(byteBuffer: JobJSON.envelope(job)))
    }

    /// `.some(nil)` without a query, `.some(N)` for exactly `delay=N` (1–6 digits), else `nil`.
    static func delay(in query: String?) -> Int64?? {
        guard let query, !query.isEmpty else { return .some(nil) }
        guard query.hasPrefix("delay=") else { return nil }
        let digits = query.dropFirst(6)
        guard (1...6).contains(digits.count), digits.allSatisfy({ $0 >= "0" && $0 <= "9" }), let value = Int64(digits)
        else {
            return nil
        }
        return .some(value)
    }
}
