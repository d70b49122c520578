import HTTPTypes
import Hummingbird
import OpenAPIHummingbird
import OpenAPIRuntime

/// Registers the generated operations on a router group, with the fast paths in front of the
/// generated ones they stand for: `CreateJobRoute` (`createJob`), `ListJobsRoute` (`listJobs`)
/// and `GetJobRoute` (`getJob`). A fast path sees only requests that take JSON back
/// (`acceptsJSON`); a request it does not take goes the generated way.
struct APITransport: ServerTransport {
    let group: RouterGroup<BasicRequestContext>
    let createRoute: CreateJobRoute
    let listRoute: ListJobsRoute
    let getRoute: GetJobRoute

    func register(
        _ handler:
            @escaping @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (
                HTTPResponse, HTTPBody?
            ),
        method: HTTPRequest.Method,
        path: String
    ) throws {
        let fastPath: @Sendable (Request, BasicRequestContext) async throws -> Response?
        // The routes, not `self` (whose router group is not `Sendable`), go into the closures.
        let (createRoute, listRoute) = (self.createRoute, self.listRoute)
        switch (method, path) {
        case (.post, CreateJobRoute.path): fastPath = { request, _ in try await createRoute.respond(to: request) }
        case (.get, CreateJobRoute.path): fastPath = { request, _ in try await listRoute.respond(to: request) }
        case (.get, GetJobRoute.path): fastPath = getRoute.respond
        default:
            group.register(handler, method: method, path: path)
            return
        }
        let generated = Router(context: BasicRequestContext.self)
        generated.register(handler, method: method, path: path)
        let responder = generated.buildResponder()
        group.on(RouterPath(path), method: method) { request, context in
            if Self.acceptsJSON(request.headers.value(of: .accept)), let response = try await fastPath(request, context)
            {
                return response
            }
            return try await responder.respond(to: request, context: context)
        }
    }

    /// No `Accept`, or one whose first media range takes JSON (the generated server reads them
    /// in order and refuses a malformed one before a later match).
    static func acceptsJSON(_ accept: String?) -> Bool {
        guard let accept else { return true }
        let first = accept.split(separator: ",", omittingEmptySubsequences: false).first?
            .split(separator: ";", omittingEmptySubsequences: false).first?
            .trimmingCharacters(in: .whitespaces).lowercased()
        return first == "application/json" || first == "*/*" || first == "application/*"
    }
}
