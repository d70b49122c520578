import AgentJobsCore
import Foundation
import HTTPTypes
import OpenAPIRuntime
import Testing

@testable import AgentJobsAPI

/// One test per case `GeneratorErrorMapping` handles: the typed cases with the error the
/// runtime wraps, and through the real router where the generated code produces it.
@Suite("Generator error mapping")
struct GeneratorErrorMappingTests {
    func serverError(_ underlying: any Error, status: HTTPResponse.Status? = nil) -> ServerError {
        ServerError(
            operationID: "createJob", request: HTTPRequest(method: .post, scheme: nil, authority: nil, path: "/"),
            requestBody: nil, requestMetadata: ServerRequestMetadata(), causeDescription: "cause",
            underlyingError: underlying, httpStatus: status ?? .internalServerError, httpHeaderFields: [:],
            httpBody: nil)
    }

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ name: String) { stringValue = name }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    func context(_ path: String...) -> DecodingError.Context {
        DecodingError.Context(codingPath: path.map(Key.init), debugDescription: "test")
    }

    @Test("a handler's AgentJobsError passes through")
    func agentJobsError() {
        let error = AgentJobsError.conflict("taken")
        #expect(GeneratorErrorMapping.map(serverError(error), query: []) == error)
    }

    @Test("a bad timestamp names the query parameter holding it, else scheduled_at")
    func timestamp() {
        let error = serverError(InvalidTimestamp(text: "yesterday"))
        #expect(
            GeneratorErrorMapping.map(error, query: [("created_at_gte", "yesterday")]).message
                == "created_at_gte must be an RFC 3339 date-time with a zone (got 'yesterday')")
        #expect(GeneratorErrorMapping.map(error, query: []).message.hasPrefix("scheduled_at must be"))
    }

    @Test("a missing key is required")
    func keyNotFound() {
        let error = DecodingError.keyNotFound(Key("code"), context("target_channel"))
        #expect(GeneratorErrorMapping.map(serverError(error), query: []).message == "target_channel.code is required")
    }

    @Test("a wrong type names the field and the expected type")
    func typeMismatch() {
        let error = DecodingError.typeMismatch(Int.self, context("config", "max_task_retries"))
        let mapped = GeneratorErrorMapping.map(serverError(error), query: [])
        #expect(mapped == .badRequest("config.max_task_retries must be a non-negative integer"))
        let root = DecodingError.typeMismatch([String: Any].self, context())
        #expect(GeneratorErrorMapping.map(serverError(root), query: []).message == "request body must be a JSON object")
    }

    @Test("null where a value is needed")
    func valueNotFound() {
        let error = DecodingError.valueNotFound(String.self, context("job_type_id"))
        #expect(
            GeneratorErrorMapping.map(serverError(error), query: []).message == "job_type_id must be a string, not null"
        )
    }

    @Test("corrupt data: the field, a named query parameter, or the body")
    func dataCorrupted() {
        let field = DecodingError.dataCorrupted(context("params"))
        #expect(GeneratorErrorMapping.map(serverError(field), query: []).message == "params has an invalid value")
        let body = DecodingError.dataCorrupted(context())
        #expect(GeneratorErrorMapping.map(serverError(body), query: []).message == "request body is not valid JSON")
        let query = DecodingError.dataCorrupted(
            DecodingError.Context(codingPath: [], debugDescription: "bad sort value"))
        #expect(
            GeneratorErrorMapping.map(serverError(query), query: [("sort", "x")]).message == "sort has an invalid value"
        )
    }

    @Test("the runtime's own 4xx is a 400 with its description; anything else is a 500 that says nothing")
    func fallbacks() {
        struct Opaque: Error {}
        #expect(
            GeneratorErrorMapping.map(serverError(Opaque(), status: .badRequest), query: []) == .badRequest("cause"))
        #expect(
            GeneratorErrorMapping.map(serverError(Opaque()), query: []) == AgentJobsError(.internal, "internal error"))
    }

    @Test("through the router: a non-integer limit, offset or delay is named", arguments: ["limit", "offset", "delay"])
    func integerQueryParameters(name: String) async throws {
        let env = try await TestEnvironment.make()
        try await env.withClient { api in
            let reply: Reply
            if name == "delay" {
                reply = try await api.create(jobBody(), token: env.writeA, query: "?delay=soon")
            } else {
                reply = try await api.list("\(name)=many", token: env.readA)
            }
            #expect(reply.status == 400)
            #expect(reply.errorMessage == "\(name) must be an integer")
        }
    }

    @Test("through the router: a body field of the wrong type is named")
    func bodyField() async throws {
        let env = try await TestEnvironment.make()
        try await env.withClient { api in
            let reply = try await api.create(
                jobBody(extra: #""config": {"max_task_retries": "two"}"#), token: env.writeA)
            #expect(reply.status == 400)
            #expect(reply.errorMessage == "config.max_task_retries must be a non-negative integer")
        }
    }
}
