import Foundation

/// A refusal by the service: the HTTP status and the error body it sent
/// (`{"error": {"code": …, "message": …}}`). Transport failures (no connection, a timeout) are
/// thrown as they come from the HTTP client instead.
public struct AgentJobsClientError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The HTTP status code (400, 401, 403, 404, 409, 413, 415, 500, 503 …).
    public var status: Int
    /// The body's `error.code`: `bad_request`, `unauthorized`, `forbidden`, `not_found`,
    /// `method_not_allowed`, `conflict`, `payload_too_large`, `unsupported_media_type`,
    /// `internal` or `unavailable`.
    public var code: String
    /// The body's `error.message`, which names the problem (the field, the parameter …).
    public var message: String
    /// `Retry-After` in seconds, sent with 503.
    public var retryAfter: Int?

    public init(status: Int, code: String, message: String, retryAfter: Int? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.retryAfter = retryAfter
    }

    public var description: String { "\(status) \(code): \(message)" }

    /// The error a response body carries, or a generic one when it has none.
    static func from(status: Int, body: Data, retryAfter: Int?) -> AgentJobsClientError {
        struct Body: Decodable {
            struct Detail: Decodable {
                var code: String
                var message: String
            }
            var error: Detail
        }
        if let decoded = try? JSONDecoder().decode(Body.self, from: body) {
            return AgentJobsClientError(
                status: status, code: decoded.error.code, message: decoded.error.message, retryAfter: retryAfter)
        }
        let text = String(decoding: body.prefix(500), as: UTF8.self)
        return AgentJobsClientError(
            status: status, code: "unexpected_response",
            message: text.isEmpty ? "HTTP \(status) without an error body" : text, retryAfter: retryAfter)
    }
}
