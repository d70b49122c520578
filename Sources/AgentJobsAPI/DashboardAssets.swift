import AgentJobsCore
import Foundation
import HTTPTypes
import Hummingbird

/// The dashboard at `/ui`: a static page, its script and its stylesheet, shipped as resources
/// of this module and read once. It is a client of the public API (the browser sends the
/// signed-in token as `Bearer`), so serving it needs no authentication.
struct DashboardAssets: Sendable {
    /// Everything is served from this origin; no inline script or style, no framing.
    static let contentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        + "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

    /// The assets by path under `/ui`, with their content types.
    static let files: [(path: String, resource: String, type: String)] = [
        ("/ui", "index.html", "text/html; charset=utf-8"),
        ("/ui/app.js", "app.js", "text/javascript; charset=utf-8"),
        ("/ui/app.css", "app.css", "text/css; charset=utf-8"),
    ]

    private static let referrerPolicy = HTTPField.Name("Referrer-Policy")!

    let bodies: [String: (body: ByteBuffer, type: String)]

    init() throws {
        var bodies: [String: (ByteBuffer, String)] = [:]
        for file in Self.files {
            guard let url = Bundle.module.url(forResource: "Dashboard/\(file.resource)", withExtension: nil) else {
                throw AgentJobsError(.internal, "dashboard resource \(file.resource) is missing")
            }
            bodies[file.path] = (ByteBuffer(bytes: try Data(contentsOf: url)), file.type)
        }
        self.bodies = bodies
    }

    /// Adds a GET route for every asset (the router serves `/ui/` as `/ui`).
    func register(on router: Router<BasicRequestContext>, routes: inout RouteTable) {
        for (path, asset) in bodies {
            routes.add(path, [.get])
            router.get(RouterPath(path)) { _, _ in Self.response(asset.body, type: asset.type) }
        }
    }

    private static func response(_ body: ByteBuffer, type: String) -> Response {
        Response(
            status: .ok,
            headers: [
                .contentType: type, .contentSecurityPolicy: contentSecurityPolicy, .cacheControl: "no-cache",
                .xContentTypeOptions: "nosniff", Self.referrerPolicy: "no-referrer",
            ],
            body: .init(byteBuffer: body))
    }
}
