import AgentJobsCore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import OpenAPIRuntime

/// The one place where failures become HTTP responses with the contract's error body.
///
/// - `AgentJobsError` carries its own code.
/// - `ServerError` (from the generated server): `GeneratorErrorMapping`.
/// - Hummingbird's `HTTPError` (no route, body too large): its status.
/// - A store's temporary failure (database busy or unreachable): 503 with `Retry-After`.
/// - Anything else is logged and answered with a 500 that reveals nothing.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let logger: Logger
    /// The routes this router serves, to answer a wrong method with 405 and `Allow`.
    let routes: RouteTable
    /// The store's reading of its driver's temporary failures (busy, unreachable): 503.
    var unavailability: @Sendable (any Error) -> AgentJobsError? = { _ in nil }

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch {
            var mapped = map(error, request: request)
            if mapped.code == .notFound, mapped.message == "no such route",
                let allowed = routes.methods(for: request.uri.path), !allowed.contains(request.method)
            {
                mapped = AgentJobsError(
                    .methodNotAllowed,
                    "\(request.method.rawValue) is not allowed on \(request.uri.path) (allowed: \(allowed.map(\.rawValue).joined(separator: ", ")))"
                )
                return ErrorResponse.response(for: mapped, allow: allowed)
            }
            if mapped.code == .internal {
                logger.error(
                    "unhandled error",
                    metadata: ["path": "\(request.uri.path)", "error": "\(Self.safeDescription(error))"])
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
        if let unavailable = unavailability((error as? ServerError)?.underlyingError ?? error) {
            return unavailable
        }
        switch error {
        case let error as AgentJobsError:
            return error
        case let error as ServerError:
            if let error = error.underlyingError as? HTTPError { return map(httpError: error) }
            return GeneratorErrorMapping.map(
                error, query: request.uri.queryParameters.map { (String($0.key), String($0.value)) })
        case let error as HTTPError:
            return map(httpError: error)
        default:
            return AgentJobsError(.internal, "internal error")
        }
    }

    func map(httpError: HTTPError) -> AgentJobsError {
        switch httpError.status.code {
        case 413: AgentJobsError(.payloadTooLarge, "request body is too large")
        case 404: .notFound("no such route")
        case 405: .notFound("method not allowed on this route")
        case 401: .unauthorized(httpError.body ?? "authentication required")
        case 400..<500: .badRequest(httpError.body ?? "bad request")
        default: AgentJobsError(.internal, "internal error")
        }
    }
}
