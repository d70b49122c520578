import AgentJobsCore

/// Who is calling: the org and access of the request's app token.
struct RequestPrincipal: Sendable {
    var orgID: String
    var tokenID: String
    var token: AppToken
    /// The token was authenticated from `VerifiedTokens`: a create has the store confirm it.
    var confirmInWrite = false

    /// The principal of the request being handled, set by `AuthMiddleware`.
    @TaskLocal static var current: RequestPrincipal?

    /// The current principal; a request that reached a handler without one is a server bug.
    static func require() throws -> RequestPrincipal {
        guard let current else { throw AgentJobsError.unauthorized("authentication required") }
        return current
    }
}

/// The bearer token presented with a task's progress report (set by `AuthMiddleware`).
enum PresentedProgressToken {
    @TaskLocal static var current: String?
}
