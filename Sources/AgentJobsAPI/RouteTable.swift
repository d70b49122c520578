import HTTPTypes

/// The paths a router serves and the methods each takes (`*` stands for one path segment),
/// so that a known path with another method gets 405 and `Allow` instead of 404.
struct RouteTable: Sendable {
    var routes: [(segments: [String], methods: [HTTPRequest.Method])] = []

    mutating func add(_ path: String, _ methods: [HTTPRequest.Method]) {
        routes.append((path.split(separator: "/").map(String.init), methods))
    }

    /// The methods `path` takes, or `nil` when no route has that path.
    func methods(for path: String) -> [HTTPRequest.Method]? {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        for route in routes where route.segments.count == segments.count {
            if zip(route.segments, segments).allSatisfy({ $0 == "*" || $0 == $1 }) { return route.methods }
        }
        return nil
    }
}
