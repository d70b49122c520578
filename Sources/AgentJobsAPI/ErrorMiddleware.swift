import AgentJobsCore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import OpenAPIRuntime

/// The one place where failures become HTTP responses with the contract's error body.
///
/// - `AgentJobsError` carries its own code.
/// - `ServerError` (from the generated server) wraps decoding failures, which become 400s
///   naming the field (`config.max_task_retries: expected an integer`), or a handler's error.
/// - Anything else is logged and answered with a 500 that reveals nothing.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch {
            let mapped = map(error, request: request)
            if mapped.code == .internal {
                logger.error("unhandled error", metadata: ["path": "\(request.uri.path)", "error": "\(Self.safeDescription(error))"])
            }
            return ErrorResponse.response(for: mapped)
        }
    }

    /// What may be logged of an error: never a `ServerError`'s request (its headers hold the
    /// token) or a query's bound values, only the kind of failure.
    static func safeDescription(_ error: any Error) -> String {
        var error = error
        if let serverError = error as? ServerError {
            error = serverError.underlyingError
        }
        let description = String(describing: error)
        let firstLine = description.split(separator: "\n").first.map(String.init) ?? description
        return "\(type(of: error)): \(firstLine.prefix(300))"
    }

    func map(_ error: any Error, request: Request) -> AgentJobsError {
        switch error {
        case let error as AgentJobsError:
            return error
        case let error as ServerError:
            return map(serverError: error, request: request)
        case let error as HTTPError:
            return map(httpError: error)
        default:
            return AgentJobsError(.internal, "internal error")
        }
    }

    private func map(serverError: ServerError, request: Request) -> AgentJobsError {
        switch serverError.underlyingError {
        case let error as AgentJobsError:
            return error
        case let error as InvalidTimestamp:
            let field = timestampField(holding: error.text, request: request)
            return .badRequest("\(field) must be an RFC 3339 date-time with a zone (got '\(error.text)')")
        case let error as DecodingError:
            return .badRequest(Self.describe(error, operation: serverError.operationID, request: request))
        case let error as HTTPError:
            return map(httpError: error)
        default:
            break
        }
        let cause = serverError.causeDescription
        if cause.contains("Missing required request body") {
            return .badRequest("request body is required (a JSON object)")
        }
        if cause.contains("content type") || cause.contains("Content-Type") {
            return AgentJobsError(.unsupportedMediaType, "Content-Type must be application/json")
        }
        if cause.contains("query parameter") || cause.contains("Failed to decode") {
            return .badRequest("invalid query parameter: \(cause)")
        }
        if serverError.httpStatus.code >= 400 && serverError.httpStatus.code < 500 {
            return .badRequest(cause)
        }
        return AgentJobsError(.internal, "internal error")
    }

    private func map(httpError: HTTPError) -> AgentJobsError {
        switch httpError.status.code {
        case 413: AgentJobsError(.payloadTooLarge, "request body is too large")
        case 404: .notFound("no such route")
        case 405: .notFound("method not allowed on this route")
        case 401: .unauthorized(httpError.body ?? "authentication required")
        case 400..<500: .badRequest(httpError.body ?? "bad request")
        default: AgentJobsError(.internal, "internal error")
        }
    }

    /// A timestamp came from the body's `scheduled_at` or a query parameter; find which.
    private func timestampField(holding text: String, request: Request) -> String {
        for (name, value) in request.uri.queryParameters where String(value) == text {
            return String(name)
        }
        return "scheduled_at"
    }

    /// Turns a `DecodingError` into a message that names the field.
    static func describe(_ error: DecodingError, operation: String, request: Request) -> String {
        func path(_ codingPath: [any CodingKey]) -> String {
            codingPath.map { key in key.intValue.map { "[\($0)]" } ?? key.stringValue }
                .joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
        }
        switch error {
        case .keyNotFound(let key, let context):
            let full = path(context.codingPath + [key])
            return "\(full) is required"
        case .typeMismatch(let type, let context):
            let field = path(context.codingPath)
            if field.isEmpty {
                if let name = invalidIntegerQueryParameter(in: request) { return "\(name) must be an integer" }
                return "request body must be a JSON object"
            }
            return "\(field) must be \(expectedDescription(type, field: field))"
        case .valueNotFound(let type, let context):
            let field = path(context.codingPath)
            return "\(field.isEmpty ? "request body" : field) must be \(expectedDescription(type, field: field)), not null"
        case .dataCorrupted(let context):
            let field = path(context.codingPath)
            if field.isEmpty {
                if let name = invalidIntegerQueryParameter(in: request) { return "\(name) must be an integer" }
                if let queryName = queryParameterMentioned(in: context.debugDescription, request: request) {
                    return "\(queryName) has an invalid value"
                }
                return "request body is not valid JSON"
            }
            return "\(field) has an invalid value"
        @unknown default:
            return "invalid request"
        }
    }

    private static func expectedDescription(_ type: Any.Type, field: String) -> String {
        let name = String(describing: type)
        switch name {
        case "Int", "Int64", "Int32": return "a non-negative integer"
        case "Double", "Float": return "a number"
        case "String": return "a string"
        case "Bool": return "a boolean"
        default:
            if name.contains("Dictionary") || name.contains("ObjectContainer") || name.contains("Components") {
                return "an object"
            }
            if name.contains("Array") { return "an array" }
            return "of type \(name)"
        }
    }

    /// The generated query decoder reports a bad integer without its name; find it.
    private static func invalidIntegerQueryParameter(in request: Request) -> String? {
        for name in ["limit", "offset", "delay"] {
            if let value = request.uri.queryParameters[name[...]], Int64(String(value)) == nil { return name }
        }
        return nil
    }

    private static func queryParameterMentioned(in description: String, request: Request) -> String? {
        for (name, _) in request.uri.queryParameters where description.contains(String(name)) {
            return String(name)
        }
        return nil
    }
}
