import AgentJobsCore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The fast path of `GET /services/agent-jobs/{id}`, which a dashboard polls while a job runs:
/// a plain request (an id without percent-encoding) is answered with
/// `JobJSON`'s bytes, skipping the generated server's `JSONEncoder`. Anything else goes the
/// generated way. The job comes from the same `JobsAPIHandler.job(pathID:)` either way, and
/// `GetJobRouteTests` checks that both ways answer the same request with the same bytes.
struct GetJobRoute: Sendable {
    static let path = "/services/agent-jobs/{id}"

    let handler: JobsAPIHandler

    /// The answer, or `nil` when the request is not a plain one (the generated way takes it).
    func respond(to request: Request, context: BasicRequestContext) async throws -> Response? {
        guard let id = context.parameters.get("id"),
            !id.contains("%")
        else { return nil }
        let job = try await handler.job(pathID: id)
        return Response(
            status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
            body: .init(byteBuffer: JobJSON.envelope(job, detailed: true)))
    }
}
