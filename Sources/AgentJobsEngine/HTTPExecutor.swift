import AgentJobsCore
import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore

/// POSTs the task document to the job type's URL with `Idempotency-Key: <task_id>` and, when
/// a secret is set, `X-Agent-Jobs-Signature: sha256=<hex HMAC-SHA256 of the body>`. A 2xx
/// answer carrying a reply object is that reply; anything else fails the task. Cancelling
/// the calling task aborts the request.
public struct HTTPExecutor: TaskExecutor {
    let client: HTTPClient
    /// Largest answer read from an agent.
    let maxResponseBytes: Int

    /// An executor calling agents through `client` (an `AgentHTTPClient`'s, which is shut down
    /// with the service group).
    public init(client: HTTPClient, maxResponseBytes: Int = 1 << 20) {
        self.client = client
        self.maxResponseBytes = maxResponseBytes
    }

    /// The signature header's value for `body`.
    public static func signature(body: Data, secret: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Data(secret.utf8)))
        return "sha256=" + TokenSecret.hex(Array(mac))
    }

    public func run(_ task: ClaimedTask) async -> TaskOutcome {
        guard case .http(let url, let secret) = task.executor else {
            return .failed(error: "job type has no agent URL", retryable: false)
        }
        let body = task.document.encoded()
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Idempotency-Key", value: task.task.id)
        if let secret {
            request.headers.add(name: "X-Agent-Jobs-Signature", value: Self.signature(body: body, secret: secret))
        }
        request.body = .bytes(ByteBuffer(bytes: body))
        let remaining = max(0.001, task.deadline.timeIntervalSinceNow)
        do {
            let response = try await client.execute(request, timeout: .milliseconds(Int64(remaining * 1000)))
            let answer = try await response.body.collect(upTo: maxResponseBytes)
            let data = Data(answer.readableBytesView)
            guard (200..<300).contains(Int(response.status.code)) else {
                let excerpt = String(decoding: data.prefix(512), as: UTF8.self)
                return .failed(error: "agent answered HTTP \(response.status.code): \(excerpt)", retryable: true)
            }
            guard let reply = ExecutorReply.parse(data) else {
                return .failed(
                    error: "agent answered \(response.status.code) without a valid reply object", retryable: true)
            }
            return reply.outcome
        } catch {
            return .failed(error: "agent request failed: \(error)", retryable: true)
        }
    }
}
