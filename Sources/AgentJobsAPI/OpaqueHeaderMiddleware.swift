import Foundation
import HTTPTypes
import Hummingbird

/// Keeps opaque header values (`Idempotency-Key`) as the client sent them. The generated
/// server percent-decodes header parameters, which would turn a key like `a%41` into `aA` and
/// refuse one like `a%zz`; this percent-encodes the raw value first, so the handler decodes
/// exactly what was sent.
struct OpaqueHeaderMiddleware<Context: RequestContext>: RouterMiddleware {
    static var names: [HTTPField.Name] { [.idempotencyKey] }

    /// Characters that pass through URI decoding unchanged.
    private static var unreserved: CharacterSet {
        CharacterSet(
            charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
    }

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var head = request.head
        for name in Self.names {
            guard let raw = head.headerFields[name] else { continue }
            head.headerFields[name] = raw.addingPercentEncoding(withAllowedCharacters: Self.unreserved) ?? raw
        }
        guard head != request.head else { return try await next(request, context) }
        return try await next(Request(head: head, body: request.body), context)
    }
}

extension HTTPField.Name {
    /// The create's `Idempotency-Key` header.
    static var idempotencyKey: Self { Self("Idempotency-Key")! }
}
