import Foundation
import Synchronization

/// Values decoded from stored JSON text that repeats from row to row (a job's config, which
/// mostly comes from its type's defaults; its target channel), kept by their text so that a
/// claim or a page of jobs decodes each distinct text once. Bounded: when `limit` texts are
/// kept, the cache starts over.
public final class DecodedTextCache<Value: Decodable & Sendable>: Sendable {
    private let entries = Mutex<[String: Value]>([:])
    private let limit: Int

    public init(limit: Int = 1024) {
        self.limit = max(1, limit)
    }

    /// The value `text` decodes to (throws what `JSONDecoder` throws for it).
    public func decode(_ text: String) throws -> Value {
        if let known = entries.withLock({ $0[text] }) { return known }
        let value = try JSONDecoder().decode(Value.self, from: Data(text.utf8))
        entries.withLock { entries in
            if entries.count >= limit { entries.removeAll(keepingCapacity: true) }
            entries[text] = value
        }
        return value
    }
}

/// The caches the stores share for job rows.
public enum StoredJobJSON {
    /// `jobs.config`.
    public static let configs = DecodedTextCache<JobConfig>()
    /// `jobs.target_channel`.
    public static let channels = DecodedTextCache<TargetChannel>()
}
