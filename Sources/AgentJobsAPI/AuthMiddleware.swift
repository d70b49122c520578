import AgentJobsCore
import Hummingbird

/// Authenticates `Authorization: Bearer aj_<id>_<secret>` against the store and checks the
/// access the method needs (GET: `services:read`; others: `services:write`). A task's progress
/// report carries the task's own progress token instead: it is handed to the handler as
/// `PresentedProgressToken.current`.
struct AuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let store: any JobStore

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        if Self.isProgressReport(request.uri.path) {
            let presented = try bearer(request.headers[.authorization])
            return try await PresentedProgressToken.$current.withValue(presented) {
                try await next(request, context)
            }
        }
        let token = try await authenticate(request.headers[.authorization])
        RequestLogInfo.current?.orgID = token.orgID
        let needed: Access = request.method == .get || request.method == .head ? .servicesRead : .servicesWrite
        guard token.allows(needed) else {
            throw AgentJobsError.forbidden("this token lacks \(needed.rawValue) access")
        }
        let principal = RequestPrincipal(orgID: token.orgID, tokenID: token.id, token: token)
        return try await RequestPrincipal.$current.withValue(principal) {
            try await next(request, context)
        }
    }

    /// `/services/agent-jobs/{id}/tasks/{task_id}/progress`.
    static func isProgressReport(_ path: String) -> Bool {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        return segments.count == 6 && segments[0] == "services" && segments[1] == "agent-jobs"
            && segments[3] == "tasks" && segments[5] == "progress"
    }

    /// The token of a `Bearer` Authorization header.
    private func bearer(_ header: String?) throws -> String {
        guard let header, !header.isEmpty else {
            throw AgentJobsError.unauthorized("missing Authorization header (expected: Bearer <token>)")
        }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw AgentJobsError.unauthorized("malformed Authorization header (expected: Bearer <token>)")
        }
        return parts[1].trimmingCharacters(in: .whitespaces)
    }

    private func authenticate(_ header: String?) async throws -> AppToken {
        let presented = try bearer(header)
        guard let (id, secret) = TokenSecret.parse(presented) else {
            throw AgentJobsError.unauthorized("malformed token")
        }
        guard let token = try await store.token(id: id),
            TokenSecret.hashesMatch(token.secretHash, TokenSecret.hash(secret: secret))
        else {
            throw AgentJobsError.unauthorized("unknown token")
        }
        guard token.revokedAt == nil else {
            throw AgentJobsError.unauthorized("token has been revoked")
        }
        return token
    }
}
