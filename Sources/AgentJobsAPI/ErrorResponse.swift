import AgentJobsCore
import Foundation
import Hummingbird

/// The contract's error body: `{"error": {"code": "...", "message": "..."}}`.
struct ErrorResponse: Encodable {
    struct Detail: Encodable {
        var code: String
        var message: String
    }
    var error: Detail

    /// The HTTP response for `error`, with `WWW-Authenticate` on 401, `allow` (the methods
    /// the route takes) on 405 and `Retry-After` (seconds) on 503.
    static func response(for error: AgentJobsError, allow: [HTTPRequest.Method] = []) -> Response {
        let body = ErrorResponse(error: .init(code: error.code.rawValue, message: error.message))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(body)) ?? Data()
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
        if error.code == .unauthorized {
            headers[.wwwAuthenticate] = #"Bearer realm="agent-jobs""#
        }
        if error.code == .unavailable {
            headers[.retryAfter] = "1"
        }
        if !allow.isEmpty {
            headers[.allow] = allow.map(\.rawValue).joined(separator: ", ")
        }
        return Response(
            status: .init(code: error.code.httpStatus), headers: headers,
            body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
