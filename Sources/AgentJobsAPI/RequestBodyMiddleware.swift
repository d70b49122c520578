import AgentJobsCore
import Foundation
import Hummingbird
import OpenAPIRuntime

/// Enforces the body rules before decoding: at most `maxBodySize` bytes (413), JSON only (415),
/// and an empty body on DELETE reads as `{}` (the cancel body is optional).
struct RequestBodyMiddleware<Context: RequestContext>: RouterMiddleware {
    let maxBodySize: Int

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        guard
            request.method == .post || request.method == .delete || request.method == .put
                || request.method == .patch
        else { return try await next(request, context) }
        var request = request
        let maxBodySize = Self.limit(for: request.uri.path, default: maxBodySize)
        if let length = request.headers.value(of: .contentLength).flatMap(Int.init), length > maxBodySize {
            throw AgentJobsError(.payloadTooLarge, "request body is larger than \(maxBodySize) bytes")
        }
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: maxBodySize)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw AgentJobsError(.payloadTooLarge, "request body is larger than \(maxBodySize) bytes")
        }
        let isBlank = body.readableBytesView.allSatisfy { $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }
        if isBlank && request.method == .delete {
            var head = request.head
            head.headerFields[.contentType] = "application/json"
            head.headerFields[.contentLength] = "2"
            return try await next(Request(head: head, body: .init(buffer: ByteBuffer(string: "{}"))), context)
        }
        if isBlank {
            throw AgentJobsError.badRequest("request body is required (a JSON object)")
        }
        if let contentType = request.headers.value(of: .contentType), contentType != "application/json" {
            let mediaType = contentType.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
            guard mediaType == "application/json" else {
                throw AgentJobsError(
                    .unsupportedMediaType, "Content-Type must be application/json (got '\(contentType)')")
            }
        } else if request.headers.value(of: .contentType) == nil {
            var head = request.head
            head.headerFields[.contentType] = "application/json"
            request = Request(head: head, body: .init(buffer: body))
        }
        do {
            return try await next(request, context)
        } catch let error as ServerError {
            if case DecodingError.dataCorrupted(let decodingContext) = error.underlyingError,
                decodingContext.codingPath.isEmpty, let problem = Self.diagnose(body)
            {
                throw AgentJobsError.badRequest(problem)
            }
            throw error
        }
    }

    /// The largest body a path takes: an event 64 KiB, a progress report 16 KiB, else `fallback`.
    static func limit(for path: String, default fallback: Int) -> Int {
        if path.hasSuffix("/events") { return min(fallback, JobEvent.maxBodyBytes) }
        if path.hasSuffix("/progress") { return min(fallback, ProgressEntry.maxBodyBytes) }
        return fallback
    }

    /// Integer fields whose non-integral numbers the JSON decoder reports without a coding path.
    static var integerFields: [[String]] { [["config", "max_follow_ups"], ["config", "max_task_retries"]] }

    /// Names the integer field holding a fraction, when that is what failed to decode.
    static func diagnose(_ body: ByteBuffer) -> String? {
        guard let root = try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any] else {
            return nil
        }
        for path in integerFields {
            var node: Any? = root
            for key in path { node = (node as? [String: Any])?[key] }
            if let number = node as? NSNumber, !(node is Bool), number.doubleValue.rounded() != number.doubleValue {
                return "\(path.joined(separator: ".")) must be a non-negative integer"
            }
        }
        return nil
    }
}
