/// An error meant for the API's client: a code that maps to an HTTP status, and a message
/// that names the offending field or parameter.
public struct AgentJobsError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kinds of client-visible failure; each maps to one HTTP status.
    public enum Code: String, Sendable, Hashable {
        case badRequest = "bad_request"
        case unauthorized
        case forbidden
        case notFound = "not_found"
        case methodNotAllowed = "method_not_allowed"
        case conflict
        case payloadTooLarge = "payload_too_large"
        case unsupportedMediaType = "unsupported_media_type"
        case `internal`
        /// The database is busy or unreachable for a moment; the client should retry.
        case unavailable

        /// The HTTP status code for the code.
        public var httpStatus: Int {
            switch self {
            case .badRequest: 400
            case .unauthorized: 401
            case .forbidden: 403
            case .notFound: 404
            case .methodNotAllowed: 405
            case .conflict: 409
            case .payloadTooLarge: 413
            case .unsupportedMediaType: 415
            case .internal: 500
            case .unavailable: 503
            }
        }
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }

    public static func badRequest(_ message: String) -> Self { .init(.badRequest, message) }
    public static func unauthorized(_ message: String) -> Self { .init(.unauthorized, message) }
    public static func forbidden(_ message: String) -> Self { .init(.forbidden, message) }
    public static func notFound(_ message: String) -> Self { .init(.notFound, message) }
    public static func conflict(_ message: String) -> Self { .init(.conflict, message) }
    public static func unavailable(_ message: String) -> Self { .init(.unavailable, message) }

    /// A request whose app token was revoked (also found by a store confirming the token).
    public static let tokenRevoked = unauthorized("token has been revoked")
}
