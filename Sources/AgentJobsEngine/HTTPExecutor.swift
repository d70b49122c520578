import AgentJobsCore
import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1

/// POSTs the task document to the job type's URL with `Idempotency-Key: <task_id>` and, when
/// a secret is set, `X-Agent-Jobs-Signature: sha256=<hex HMAC-SHA256 of the body>`. A 2xx
/// answer must be a reply object (checked field by field); a 3xx
/// is not followed (the body and its signature go nowhere else) and, like any other status,
/// fails the task; an answer over 1 MiB fails it. Each call is bounded by the job's deadline
/// and `requestTimeout`. Cancelling the calling task aborts the request.
public struct HTTPExecutor: TaskExecutor, StoppableExecutor {
    /// The client for the next call.
    let client: @Sendable () -> HTTPClient
    /// The client for `http://` agents (`nil`: AsyncHTTPClient for every agent).
    let plain: PlainHTTPClient?
    /// Largest answer read from an agent.
    let maxResponseBytes: Int
    /// The longest one call may take (the job's deadline and the task timeout bound it too).
    let requestTimeout: Duration

    /// An executor calling every agent through `client` (an `AgentHTTPClient`'s, which follows
    /// no redirects and is shut down with the service group).
    public init(client: HTTPClient, maxResponseBytes: Int = 1 << 20, requestTimeout: Duration = .seconds(3600)) {
        self.client = { client }
        self.plain = nil
        self.maxResponseBytes = maxResponseBytes
        self.requestTimeout = requestTimeout
    }

    /// An executor calling `http://` agents through `clients.plain` and the others (`https://`)
    /// through `clients`' AsyncHTTPClients in turn.
    public init(clients: AgentHTTPClient, maxResponseBytes: Int = 1 << 20, requestTimeout: Duration = .seconds(3600)) {
        self.client = { clients.next() }
        self.plain = clients.plain
        self.maxResponseBytes = maxResponseBytes
        self.requestTimeout = requestTimeout
    }

    /// The signature header's value for `body`.
    public static func signature(body: some DataProtocol, secret: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Data(secret.utf8)))
        return "sha256=" + TokenSecret.hex(Array(mac))
    }

    public func run(_ task: ClaimedTask) async -> TaskOutcome {
        await run(task, stop: nil)
    }

    func run(_ task: ClaimedTask, stoppingAt stop: AsyncSignal) async -> TaskOutcome {
        await run(task, stop: stop)
    }

    /// Calls the agent until it answers, the call fails, or `stop` fires: `http://` agents
    /// through `plain`, which closes the connection at the signal; the others through
    /// AsyncHTTPClient, raced against the signal.
    private func run(_ task: ClaimedTask, stop: AsyncSignal?) async -> TaskOutcome {
        guard case .http(let url, let secret) = task.executor else {
            return .failed(error: "job type has no agent URL", retryable: false)
        }
        let body = task.document.encodedBytes()
        var headers: [(String, String)] = [("Content-Type", "application/json"), ("Idempotency-Key", task.task.id)]
        if let secret {
            headers.append(("X-Agent-Jobs-Signature", Self.signature(body: body, secret: secret)))
        }
        let remaining = min(
            max(0.001, min(task.deadline, task.timeoutAt).timeIntervalSince(task.startedAt)), requestTimeout.seconds)
        let timeout = Duration.milliseconds(Int64(remaining * 1000))
        if let plain, let target = PlainTarget(url) {
            return await outcome { [maxResponseBytes] in
                let answer = try await plain.post(
                    host: target.host, port: target.port, uri: target.uri, headers: HTTPHeaders(headers), body: body,
                    timeout: timeout, maxResponseBytes: maxResponseBytes, stop: stop)
                return outcome(code: answer.status, answer: answer.body)
            }
        }
        let call: @Sendable () async -> TaskOutcome = { [headers] in
            await outcome {
                var request = HTTPClientRequest(url: url)
                request.method = .POST
                request.headers = HTTPHeaders(headers)
                request.body = .bytes(ByteBuffer(bytes: body))
                let response = try await client().execute(request, timeout: TimeAmount(timeout))
                let code = Int(response.status.code)
                if (300..<400).contains(code) { return outcome(code: code, answer: ByteBuffer()) }
                return outcome(code: code, answer: try await response.body.collect(upTo: maxResponseBytes))
            }
        }
        guard let stop else { return await call() }
        return await untilSignalled(stop, call) ?? .failed(error: "agent request stopped", retryable: true)
    }

    /// The outcome `call` returns, or the failure it throws.
    private func outcome(_ call: () async throws -> TaskOutcome) async -> TaskOutcome {
        do {
            return try await call()
        } catch is NIOTooManyBytesError {
            return .failed(
                error: "output exceeds \(CommandExecutor.describe(bytes: maxResponseBytes))", retryable: true)
        } catch {
            return .failed(error: "agent request failed: \(error)", retryable: true)
        }
    }

    /// The task's outcome from the agent's status and answer.
    private func outcome(code: Int, answer: ByteBuffer) -> TaskOutcome {
        if (300..<400).contains(code) {
            return .failed(error: "agent answered HTTP \(code) (a redirect, not followed)", retryable: true)
        }
        let data = Data(answer.readableBytesView)
        guard (200..<300).contains(code) else {
            let excerpt = String(decoding: data.prefix(512), as: UTF8.self)
            return .failed(error: "agent answered HTTP \(code): \(excerpt)", retryable: true)
        }
        switch ExecutorReply.parse(data) {
        case .reply(let outcome): return outcome
        case .invalid(let problem): return .failed(error: "invalid executor reply: \(problem)", retryable: true)
        case .notAReply:
            return .failed(error: "agent answered \(code) without a valid reply object", retryable: true)
        }
    }
}

/// Where an `http://` agent URL points, for `PlainHTTPClient`; `nil` for anything else
/// (`https://`, a user in the URL, an IPv6 literal), which AsyncHTTPClient calls.
struct PlainTarget: Equatable {
    var host: String
    var port: Int
    /// The request target: the path (`/` when empty) and the query, as written.
    var uri: String

    init?(_ url: String) {
        guard let components = URLComponents(string: url), components.scheme?.lowercased() == "http",
            let host = components.host, !host.isEmpty, !host.contains(":"), !host.contains("["),
            components.user == nil, components.password == nil
        else { return nil }
        let port = components.port ?? 80
        guard (1...65535).contains(port) else { return nil }
        self.host = host
        self.port = port
        let path = components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
        uri = components.percentEncodedQuery.map { path + "?" + $0 } ?? path
    }

    init(host: String, port: Int, uri: String) {
        self.host = host
        self.port = port
        self.uri = uri
    }
}
