import AgentJobsCore
import Foundation
import Hummingbird
import Logging
import OpenAPIHummingbird
import OpenAPIRuntime

/// Builds the service's HTTP router: the generated API under `/services/agent-jobs` behind auth
/// and body checks, the dashboard at `/ui` (`DashboardAssets`), plus `/healthz`, `/readyz`,
/// `/openapi.yaml` and, when `metrics` renders the Prometheus text, `/metrics`.
public func buildRouter(
    store: any JobStore,
    clock: any WallClock = SystemWallClock(),
    configuration: APIConfiguration = .init(),
    logger: Logger,
    metrics: (@Sendable () async -> String)? = nil
) throws -> Router<BasicRequestContext> {
    let router = Router(context: BasicRequestContext.self)
    router.add(middleware: RequestLogMiddleware(logger: logger))
    var routes = RouteTable()
    for path in ["/healthz", "/readyz", "/openapi.yaml"] { routes.add(path, [.get]) }
    if metrics != nil { routes.add("/metrics", [.get]) }
    if configuration.servesJobsAPI {
        routes.add("/services/agent-jobs", [.get, .post])
        routes.add("/services/agent-jobs/stats", [.get])  // before the job ids it looks like
        routes.add("/services/agent-jobs/*", [.get, .delete])
        routes.add("/services/agent-jobs/*/events", [.post])
        routes.add("/services/agent-jobs/*/stream", [.get])
        routes.add("/services/agent-jobs/*/tasks/*/progress", [.post])
        routes.add("/services/agent-schedules", [.get, .post])
        routes.add("/services/agent-schedules/*", [.get, .patch, .delete])
    }
    let dashboard = configuration.servesJobsAPI ? try DashboardAssets() : nil
    if let dashboard { dashboard.register(on: router, routes: &routes) }
    router.add(
        middleware: ErrorMiddleware(logger: logger, routes: routes, unavailability: { store.unavailability(of: $0) }))

    router.get("/healthz") { _, _ in
        jsonResponse(#"{"status":"ok"}"#)
    }
    router.get("/readyz") { _, _ in
        do {
            try await store.ping()
            return jsonResponse(#"{"status":"ready"}"#)
        } catch {
            logger.warning("readiness check failed", metadata: ["error": "\(error)"])
            let reason = store.unavailability(of: error)?.message ?? "database unreachable"
            let body = (try? JSONEncoder().encode(["status": "unavailable", "reason": reason])) ?? Data()
            var response = jsonResponse(String(decoding: body, as: UTF8.self), status: .serviceUnavailable)
            response.headers[.retryAfter] = "1"
            return response
        }
    }
    if let metrics {
        router.get("/metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: await metrics())))
        }
    }
    let document = try OpenAPIDocument.yaml()
    router.get("/openapi.yaml") { _, _ in
        Response(
            status: .ok, headers: [.contentType: "application/yaml; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: document)))
    }

    guard configuration.servesJobsAPI else { return router }
    let api = router.group()
        .add(middleware: LocationHeaderMiddleware())
        .add(middleware: AuthMiddleware(store: store))
        .add(middleware: RequestBodyMiddleware(maxBodySize: configuration.maxBodySize))
        .add(middleware: OpaqueHeaderMiddleware())
        .add(middleware: QueryStringMiddleware())
    let handler = JobsAPIHandler(
        store: store, clock: clock, configuration: configuration, logger: logger,
        streams: JobStreamWatcher(store: store, interval: configuration.streamPollInterval))
    try handler.registerHandlers(
        on: APITransport(
            group: api, createRoute: CreateJobRoute(handler: handler), listRoute: ListJobsRoute(handler: handler),
            getRoute: GetJobRoute(handler: handler)),
        serverURL: URL(string: "/")!,
        configuration: .init(
            dateTranscoder: TimestampTranscoder(), jsonEncodingOptions: [.sortedKeys, .withoutEscapingSlashes]))
    return router
}

private func jsonResponse(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
    Response(
        status: status, headers: [.contentType: "application/json"],
        body: .init(byteBuffer: ByteBuffer(string: text)))
}

/// The OpenAPI document, shipped as a resource of this module.
public enum OpenAPIDocument {
    /// The text of `openapi.yaml`.
    public static func yaml() throws -> String {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml") else {
            throw AgentJobsError(.internal, "openapi.yaml resource is missing")
        }
        return try String(contentsOf: url, encoding: .utf8)
    }
}
