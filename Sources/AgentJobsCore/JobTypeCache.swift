import Synchronization

/// Job types never change once created, so each store keeps the ones it has found
/// (misses are not kept: a type may be created a moment later).
public final class JobTypeCache: Sendable {
    private let types = Mutex<[String: JobType]>([:])

    public init() {}

    /// The cached type, or the one `load` finds (then cached).
    public func jobType(id: String, load: () throws -> JobType?) rethrows -> JobType? {
        if let cached = types.withLock({ $0[id] }) { return cached }
        let found = try load()
        if let found { types.withLock { $0[id] = found } }
        return found
    }

    /// The async form of `jobType(id:load:)`.
    public func jobType(id: String, load: () async throws -> JobType?) async rethrows -> JobType? {
        if let cached = types.withLock({ $0[id] }) { return cached }
        let found = try await load()
        if let found { types.withLock { $0[id] = found } }
        return found
    }
}
