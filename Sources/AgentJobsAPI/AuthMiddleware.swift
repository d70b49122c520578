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
            let presented = try Self.bearer(request.headers.value(of: .authorization))
            return try await PresentedProgressToken.$current.withValue(presented) {
                try await next(request, context)
            }
        }
        let token = try await authenticate(request.headers.value(of: .authorization))
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

    private func authenticate(_ header: String?) async throws -> AppToken {
        let presented = try Self.bearer(header)
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
