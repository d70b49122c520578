import Hummingbird

/// The generated server percent-encodes header values as URI components, which turns
/// `/services/agent-jobs/job_1` into `%2Fservices%2F…`; `Location` must stay a plain path.
struct LocationHeaderMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        var response = try await next(request, context)
        if let location = response.headers.value(of: .location), location.utf8.contains(UInt8(ascii: "%")),
            let decoded = location.removingPercentEncoding
        {
            response.headers[.location] = decoded
        }
        return response
    }
}
