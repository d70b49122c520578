import AgentJobsCore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOHTTP1
import Testing

@testable import AgentJobsEngine

/// A request context that knows the caller's port: one port per connection.
struct PeerContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let peerPort: Int

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        peerPort = source.channel.remoteAddress?.port ?? -1
    }
}

/// The client `http://` agents are called with: kept-alive connections, capped answers, time
/// limits and cancellation.
@Suite("Plain HTTP client")
struct PlainHTTPClientTests {
    static func text(_ text: String, close: Bool = false) -> Response {
        Response(
            status: .ok, headers: close ? [.connection: "close"] : [:],
            body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func post(
        _ client: PlainHTTPClient, _ port: Int, _ path: String, body: String = "{}", headers: HTTPHeaders = [:],
        timeout: Duration = .seconds(10), limit: Int = 1 << 20
    ) async throws -> String {
        let answer = try await client.post(
            host: "127.0.0.1", port: port, uri: path, headers: headers, body: Array(body.utf8), timeout: timeout,
            maxResponseBytes: limit)
        return "\(answer.status) " + String(buffer: answer.body)
    }

    @Test("a connection is kept for the next call to the same agent, unless the agent closes it")
    func keepAlive() async throws {
        let router = Router(context: PeerContext.self)
        router.post("/peer") { _, context in Self.text("\(context.peerPort)") }
        router.post("/close") { _, context in Self.text("\(context.peerPort)", close: true) }
        let stub = try await StubAgent(router)
        defer { stub.stop() }
        let client = PlainHTTPClient()
        let first = try await Self.post(client, stub.port, "/peer")
        let second = try await Self.post(client, stub.port, "/peer")
        let closing = try await Self.post(client, stub.port, "/close")
        let after = try await Self.post(client, stub.port, "/peer")
        await client.shutdown()
        #expect(first.hasPrefix("200 "))
        #expect(first == second, "the second call went over the first one's connection")
        #expect(closing == second, "and so did the third")
        #expect(after != closing, "the agent closed that one: a new connection")
        await #expect(throws: PlainHTTPClient.CallError.self) { try await Self.post(client, stub.port, "/peer") }
    }

    @Test("the request carries Host, Content-Length, the caller's headers and the body, to the path and query")
    func request() async throws {
        let router = Router()
        router.post("/echo") { request, _ in
            let body = try await request.body.collect(upTo: 1 << 20)
            // HTTP/1's Host is the request's authority here.
            let fields =
                ["Host=\(request.head.authority ?? "-")"]
                + ["Content-Length", "Idempotency-Key"].map { name in
                    "\(name)=\(request.headers[HTTPField.Name(name)!] ?? "-")"
                }
            return Self.text((fields + [request.uri.query ?? "-", String(buffer: body)]).joined(separator: "|"))
        }
        let stub = try await StubAgent(router)
        defer { stub.stop() }
        let client = PlainHTTPClient()
        let echoed = try await Self.post(
            client, stub.port, "/echo?a=1", body: #"{"x": "é"}"#, headers: ["Idempotency-Key": "task_1"])
        await client.shutdown()
        #expect(echoed == "200 Host=127.0.0.1:\(stub.port)|Content-Length=11|Idempotency-Key=task_1|a=1|{\"x\": \"é\"}")
    }

    @Test("an answer over the limit fails; a call past its time limit fails; a cancelled call ends at once")
    func limits() async throws {
        let arrived = AsyncSignal()
        let release = AsyncSignal()
        let router = Router()
        router.post("/big") { _, _ in Self.text(String(repeating: "a", count: 2000)) }
        router.post("/hold") { _, _ in
            arrived.signal()
            _ = await release.waitUntilFired(timeout: .seconds(30))
            return Self.text("late")
        }
        router.post("/ok") { _, _ in Self.text("ok") }
        let stub = try await StubAgent(router)
        defer {
            release.signal()
            stub.stop()
        }
        let client = PlainHTTPClient()
        await #expect(throws: NIOTooManyBytesError.self) { try await Self.post(client, stub.port, "/big", limit: 1000) }
        #expect(try await Self.post(client, stub.port, "/big", limit: 2000).count == 2004)
        await #expect(throws: PlainHTTPClient.CallError.timedOut) {
            try await Self.post(client, stub.port, "/hold", timeout: .milliseconds(200))
        }
        let call = Task { try await Self.post(client, stub.port, "/hold") }
        _ = await arrived.waitUntilFired()
        let started = ContinuousClock.now
        call.cancel()
        await #expect(throws: (any Error).self) { try await call.value }
        #expect(ContinuousClock.now - started < .seconds(10), "the cancelled call did not wait for the agent")
        #expect(try await Self.post(client, stub.port, "/ok") == "200 ok", "the client still works")
        await client.shutdown()
    }

    @Test("a call whose stop signal fires ends at once, its connection closed; a stop fired before the call stops it")
    func stopSignal() async throws {
        let arrived = AsyncSignal()
        let release = AsyncSignal()
        let router = Router(context: PeerContext.self)
        router.post("/hold") { _, _ in
            arrived.signal()
            _ = await release.waitUntilFired(timeout: .seconds(30))
            return Self.text("late")
        }
        router.post("/peer") { _, context in Self.text("\(context.peerPort)") }
        let stub = try await StubAgent(router)
        defer {
            release.signal()
            stub.stop()
        }
        let client = PlainHTTPClient()
        let kept = try await Self.post(client, stub.port, "/peer")
        let stop = AsyncSignal()
        let call = Task {
            try await client.post(
                host: "127.0.0.1", port: stub.port, uri: "/hold", headers: [:], body: [], timeout: .seconds(30),
                maxResponseBytes: 1000, stop: stop)
        }
        _ = await arrived.waitUntilFired()
        let started = ContinuousClock.now
        stop.signal()
        await #expect(throws: (any Error).self) { _ = try await call.value }
        #expect(ContinuousClock.now - started < .seconds(10), "the stopped call did not wait for the agent")
        #expect(try await Self.post(client, stub.port, "/peer") != kept, "the stopped call's connection was closed")
        // Already fired: neither a kept connection nor a new one is used.
        await #expect(throws: (any Error).self) {
            try await client.post(
                host: "127.0.0.1", port: stub.port, uri: "/peer", headers: [:], body: [], timeout: .seconds(30),
                maxResponseBytes: 1000, stop: stop)
        }
        await client.shutdown()
    }

    @Test("which agent URLs the plain client takes, and the request target it sends")
    func targets() {
        #expect(
            PlainTarget("http://127.0.0.1:8080/agent?x=1&y=%20")
                == PlainTarget(host: "127.0.0.1", port: 8080, uri: "/agent?x=1&y=%20"))
        #expect(PlainTarget("http://agents.internal") == PlainTarget(host: "agents.internal", port: 80, uri: "/"))
        #expect(PlainTarget("HTTP://a.example/p%2Fq") == PlainTarget(host: "a.example", port: 80, uri: "/p%2Fq"))
        #expect(PlainTarget("https://a.example/agent") == nil)
        #expect(PlainTarget("http://user:pw@a.example/agent") == nil)
        #expect(PlainTarget("http://[::1]:8080/agent") == nil)
        #expect(PlainTarget("not a url") == nil)
    }
}
