import Foundation
import HTTPTypes
import OpenAPIRuntime

/// Sends the app token as `Authorization: Bearer`.
struct BearerTokenMiddleware: ClientMiddleware {
    let token: String

    func intercept(
        _ request: HTTPRequest, body: HTTPBody?, baseURL: URL, operationID: String,
        next: (HTTPRequest, HTTPBody?, URL) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        var request = request
        request.headerFields[.authorization] = "Bearer \(token)"
        return try await next(request, body, baseURL)
    }
}

/// Turns every 4xx and 5xx into an `AgentJobsClientError` carrying the service's error body,
/// so that callers get one error type whatever the operation.
struct ErrorBodyMiddleware: ClientMiddleware {
    /// Error bodies are small; a larger one is cut here.
    static let maxErrorBody = 64 * 1024

    func intercept(
        _ request: HTTPRequest, body: HTTPBody?, baseURL: URL, operationID: String,
        next: (HTTPRequest, HTTPBody?, URL) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        let (response, responseBody) = try await next(request, body, baseURL)
        guard response.status.code >= 400 else { return (response, responseBody) }
        var data = Data()
        if let responseBody {
            for try await chunk in responseBody {
                data.append(contentsOf: chunk.prefix(Self.maxErrorBody - data.count))
                if data.count >= Self.maxErrorBody { break }
            }
        }
        throw AgentJobsClientError.from(
            status: response.status.code, body: data,
            retryAfter: response.headerFields[.retryAfter].flatMap { Int($0) })
    }
}
