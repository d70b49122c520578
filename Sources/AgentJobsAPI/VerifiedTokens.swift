import AgentJobsCore
import Synchronization

/// The app tokens this node has found valid, by id. A create authenticates from here without
/// a lookup of its own, and the store confirms the token in the create's write
/// (`JobStore.createJob(_:idempotency:at:confirmingToken:)`): on PostgreSQL in the same
/// statement, so a create costs one round trip and a revocation committed before the request,
/// on any node, still fails it. Every other request looks its token up, and a lookup that
/// finds a token revoked takes it out. At `capacity` tokens the cache starts over.
final class VerifiedTokens: Sendable {
    /// How many tokens are kept before the cache starts over.
    let capacity: Int
    private let tokens = Mutex<[String: AppToken]>([:])

    init(capacity: Int = 10_000) {
        self.capacity = capacity
    }

    /// The token `id` as last found valid, if it was.
    func token(id: String) -> AppToken? {
        tokens.withLock { $0[id] }
    }

    /// Keeps `token` if it is valid, and forgets it if it was revoked.
    func remember(_ token: AppToken) {
        tokens.withLock { tokens in
            guard token.revokedAt == nil else {
                tokens[token.id] = nil
                return
            }
            if tokens.count >= capacity, tokens[token.id] == nil { tokens.removeAll(keepingCapacity: true) }
            tokens[token.id] = token
        }
    }

    /// How many tokens are kept.
    var count: Int { tokens.withLock { $0.count } }
}
