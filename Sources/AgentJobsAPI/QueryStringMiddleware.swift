import HTTPTypes
import Hummingbird

/// Drops empty pairs from the query string (`?status=WAITING&&limit=9`, a trailing `&`), which
/// the generated server's parser refuses as malformed; every other query reaches it unchanged.
struct QueryStringMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        guard let path = request.head.path, let mark = path.firstIndex(of: "?") else {
            return try await next(request, context)
        }
        let query = path[path.index(after: mark)...]
        let pairs = query.split(separator: "&", omittingEmptySubsequences: true)
        guard pairs.count != query.split(separator: "&", omittingEmptySubsequences: false).count else {
            return try await next(request, context)
        }
        var head = request.head
        head.path = String(path[..<mark]) + (pairs.isEmpty ? "" : "?" + pairs.joined(separator: "&"))
        return try await next(Request(head: head, body: request.body), context)
    }
}
