import AgentJobsCore
import Foundation
import OpenAPIRuntime

/// The errors of the generated server (`ServerError` from swift-openapi-generator's runtime)
/// as the contract's client errors: a handler's `AgentJobsError`, a bad timestamp, a decoding
/// failure named by its field, or the runtime's own 4xx. No case matches the runtime's message
/// text; `GeneratorErrorMappingTests` has one test per case, through the real router where
/// the runtime produces the error.
enum GeneratorErrorMapping {
    /// A query parameter as it arrived.
    typealias QueryItem = (name: String, value: String)

    static func map(_ serverError: ServerError, query: [QueryItem]) -> AgentJobsError {
        switch serverError.underlyingError {
        case let error as AgentJobsError:
            return error
        case let error as InvalidTimestamp:
            let field = query.first { $0.value == error.text }?.name ?? "scheduled_at"
            return .badRequest("\(field) must be an RFC 3339 date-time with a zone (got '\(error.text)')")
        case let error as DecodingError:
            return .badRequest(describe(error, query: query))
        default:
            break
        }
        // Empty bodies and other media types never reach the generated server
        // (`RequestBodyMiddleware` answers them); what is left is the runtime's own 4xx.
        if (400..<500).contains(serverError.httpStatus.code) {
            return .badRequest(serverError.causeDescription)
        }
        return AgentJobsError(.internal, "internal error")
    }

    /// Turns a `DecodingError` into a message that names the field.
    static func describe(_ error: DecodingError, query: [QueryItem]) -> String {
        func path(_ codingPath: [any CodingKey]) -> String {
            codingPath.map { key in key.intValue.map { "[\($0)]" } ?? key.stringValue }
                .joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
        }
        switch error {
        case .keyNotFound(let key, let context):
            return "\(path(context.codingPath + [key])) is required"
        case .typeMismatch(let type, let context):
            let field = path(context.codingPath)
            if field.isEmpty {
                if let name = invalidIntegerQueryParameter(in: query) { return "\(name) must be an integer" }
                return "request body must be a JSON object"
            }
            return "\(field) must be \(expectedDescription(type))"
        case .valueNotFound(let type, let context):
            let field = path(context.codingPath)
            return "\(field.isEmpty ? "request body" : field) must be \(expectedDescription(type)), not null"
        case .dataCorrupted(let context):
            let field = path(context.codingPath)
            if field.isEmpty {
                if let name = invalidIntegerQueryParameter(in: query) { return "\(name) must be an integer" }
                if let item = query.first(where: { context.debugDescription.contains($0.name) }) {
                    return "\(item.name) has an invalid value"
                }
                return "request body is not valid JSON"
            }
            return "\(field) has an invalid value"
        @unknown default:
            return "invalid request"
        }
    }

    static func expectedDescription(_ type: Any.Type) -> String {
        let name = String(describing: type)
        switch name {
        case "Int", "Int64", "Int32": return "a non-negative integer"
        case "Double", "Float": return "a number"
        case "String": return "a string"
        case "Bool": return "a boolean"
        default:
            if name.contains("Dictionary") || name.contains("ObjectContainer") || name.contains("Components") {
                return "an object"
            }
            if name.contains("Array") { return "an array" }
            return "of type \(name)"
        }
    }

    /// The generated query decoder reports a bad integer without its name; find it.
    static func invalidIntegerQueryParameter(in query: [QueryItem]) -> String? {
        for name in ["limit", "offset", "delay", "timeout"] {
            if let item = query.first(where: { $0.name == name }), Int64(item.value) == nil { return name }
        }
        return nil
    }
}
