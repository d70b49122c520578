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

    /// The HTTP response for `error`, with `WWW-Authenticate` on 401 and `allow` (the
    /// methods the route takes) on 405.
    static func response(for error: AgentJobsError, allow: [HTTPRequest.Method] = []) -> Response {
        let body = ErrorResponse(error: .init(code: error.code.rawValue, message: error.message))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        let data = (try? encoder.encode(body)) ?? Data()
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
        if error.code == .unauthorized {
            headers[.wwwAuthenticate] = #"Bearer realm="agent-jobs""#
        }
        if !allow.isEmpty {
            headers[.allow] = allow.map(\.rawValue).joined(separator: ", ")
        }
        return Response(
            status: .init(code: error.code.httpStatus), headers: headers,
            body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
