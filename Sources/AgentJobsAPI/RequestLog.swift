import Foundation
import Hummingbird
import Logging
import Synchronization

/// What the request log line learns while the request is handled (the org, once authenticated).
final class RequestLogInfo: Sendable {
    private let org = Mutex<String?>(nil)

    var orgID: String? {
        get { org.withLock { $0 } }
        set { org.withLock { $0 = newValue } }
    }

    @TaskLocal static var current: RequestLogInfo?
}

/// Writes one structured line per request: method, path (without the query), status,
/// duration and org. Never headers or bodies, so tokens cannot leak into logs.
struct RequestLogMiddleware<Context: RequestContext>: RouterMiddleware {
    let logger: Logger

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        let start = ContinuousClock.now
        let info = RequestLogInfo()
        var status = 500
        defer {
            let elapsed = ContinuousClock.now - start
            let millis = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
            logger.info(
                "request",
                metadata: [
                    "method": "\(request.method.rawValue)",
                    "path": "\(request.uri.path)",
                    "status": "\(status)",
                    "duration_ms": "\(String(format: "%.2f", millis))",
                    "org": "\(info.orgID ?? "-")",
                ])
        }
        let response = try await RequestLogInfo.$current.withValue(info) {
            try await next(request, context)
        }
        status = response.status.code
        return response
    }
}
