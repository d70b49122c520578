import AgentJobsCore
import Hummingbird

/// Authenticates `Authorization: Bearer aj_<id>_<secret>` against the store and checks the
/// access the method needs (GET: `services:read`; others: `services:write`). A task's progress
/// report carries the task's own progress token instead: it is handed to the handler as
/// `PresentedProgressToken.current`. A create (`POST /services/agent-jobs`) whose token this
/// node found valid before is authenticated from `verified` and has the store confirm the
/// token in its write instead of looking it up first.
struct AuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let store: any JobStore
    /// The tokens found valid, shared by every request this middleware handles.
    var verified = VerifiedTokens()

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        if Self.isProgressReport(request.uri.path) {
            let presented = try Self.bearer(request.headers.value(of: .authorization))
            return try await PresentedProgressToken.$current.withValue(presented) {
                try await next(request, context)
            }
        }
        let isCreate = request.method == .post && request.uri.path == CreateJobRoute.path
        let (token, confirmInWrite) = try await authenticate(
            request.headers.value(of: .authorization), fromVerified: isCreate)
        RequestLogInfo.current?.orgID = token.orgID
        let needed: Access = request.method == .get || request.method == .head ? .servicesRead : .servicesWrite
        guard token.allows(needed) else {
            if confirmInWrite { try await confirm(token) }
            throw AgentJobsError.forbidden("this token lacks \(needed.rawValue) access")
        }
        let principal = RequestPrincipal(
            orgID: token.orgID, tokenID: token.id, token: token, confirmInWrite: confirmInWrite)
        return try await RequestPrincipal.$current.withValue(principal) {
            guard confirmInWrite else { return try await next(request, context) }
            // A create that failed before its write never confirmed the token: confirm it
            // now, so that a revoked token learns nothing but that it is revoked.
            let response: Response
            do {
                response = try await next(request, context)
            } catch {
                try await confirm(token)
                throw error
            }
            if response.status.code >= 400 { try await confirm(token) }
            return response
        }
    }

    /// Throws `.tokenRevoked` unless the store still has `token` unrevoked.
    private func confirm(_ token: AppToken) async throws {
        guard let current = try await store.token(id: token.id) else { throw AgentJobsError.tokenRevoked }
        verified.remember(current)
        guard current.revokedAt == nil else { throw AgentJobsError.tokenRevoked }
    }

    /// `/services/agent-jobs/{id}/tasks/{task_id}/progress`.
    static func isProgressReport(_ path: String) -> Bool {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        return segments.count == 6 && segments[0] == "services" && segments[1] == "agent-jobs"
            && segments[3] == "tasks" && segments[5] == "progress"
    }

    /// The token of an all-ASCII `Bearer <token>` header read on its bytes (every request has
    /// one); `nil` for anything else, which `bearer` reads the general way.
    static func asciiBearer(_ header: String) -> String? {
        let bytes = Array(header.utf8)
        guard bytes.count > 7, bytes.allSatisfy({ $0 < 0x80 }),
            bytes[0..<6].map({ $0 | 0x20 }).elementsEqual("bearer".utf8), bytes[6] == UInt8(ascii: " ")
        else { return nil }
        // ASCII whitespace as `CharacterSet.whitespaces` has it: space and tab.
        func isBlank(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
        var start = 7
        while start < bytes.count, bytes[start] == UInt8(ascii: " ") { start += 1 }
        while start < bytes.count, isBlank(bytes[start]) { start += 1 }
        var end = bytes.count
        while end > start, isBlank(bytes[end - 1]) { end -= 1 }
        guard start < end else { return nil }
        return String(decoding: bytes[start..<end], as: UTF8.self)
    }

    /// The token of a `Bearer` Authorization header.
    static func bearer(_ header: String?) throws -> String {
        guard let header, !header.isEmpty else {
            throw AgentJobsError.unauthorized("missing Authorization header (expected: Bearer <token>)")
        }
        if let token = Self.asciiBearer(header) { return token }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw AgentJobsError.unauthorized("malformed Authorization header (expected: Bearer <token>)")
        }
        return parts[1].trimmingCharacters(in: .whitespaces)
    }

    /// The request's token, and whether it came from `verified` (`fromVerified`: the request
    /// confirms it in its write) rather than from the store.
    private func authenticate(_ header: String?, fromVerified: Bool) async throws -> (AppToken, Bool) {
        let presented = try Self.bearer(header)
        guard let (id, secret) = TokenSecret.parse(presented) else {
            throw AgentJobsError.unauthorized("malformed token")
        }
        let hash = TokenSecret.hash(secret: secret)
        if fromVerified, let known = verified.token(id: id), TokenSecret.hashesMatch(known.secretHash, hash) {
            return (known, true)
        }
        guard let token = try await store.token(id: id), TokenSecret.hashesMatch(token.secretHash, hash) else {
            throw AgentJobsError.unauthorized("unknown token")
        }
        verified.remember(token)
        guard token.revokedAt == nil else { throw AgentJobsError.tokenRevoked }
        return (token, false)
    }
}
