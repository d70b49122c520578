import AgentJobsCore
import Hummingbird

/// Authenticates `Authorization: Bearer aj_<id>_<secret>` against the store and checks the
/// access the method needs (GET: `services:read`; others: `services:write`).
struct AuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let store: any JobStore

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
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

    private func authenticate(_ header: String?) async throws -> AppToken {
        guard let header, !header.isEmpty else {
            throw AgentJobsError.unauthorized("missing Authorization header (expected: Bearer <token>)")
        }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw AgentJobsError.unauthorized("malformed Authorization header (expected: Bearer <token>)")
        }
        let presented = parts[1].trimmingCharacters(in: .whitespaces)
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
