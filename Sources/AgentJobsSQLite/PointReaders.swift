import Foundation
import GRDB
import Synchronization

/// Read-only connections of their own for lookups of one row by primary key (a token on every
/// request, an organization, a job type): one per core, each used by one caller at a time.
///
/// GRDB's reader pool hands out a connection through a concurrent queue's barrier, a
/// semaphore, a group and a lock, and finds a free connection with a key path that the Swift
/// runtime resolves on every call. At 32 clients the token lookup was a sixth of a create's
/// CPU and that hand-out about a third of it. Here a caller takes the next connection in turn
/// and runs its statement on it with GRDB's `unsafeRead` (a serial queue's `sync`, on the
/// calling thread; another caller on the same connection waits its turn, for microseconds).
/// Each statement sees the database as committed when it starts, as a pool reader's did.
final class PointReaders: Sendable {
    private let connections: [DatabaseQueue]
    private let next = Atomic<Int>(0)

    /// Opens `count` read-only connections to the database file at `path`, which must exist
    /// (in WAL mode, as the store's pool leaves it).
    init(path: String, count: Int, busyTimeout: TimeInterval) throws {
        var configuration = GRDB.Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(busyTimeout)
        connections = try (0..<max(1, count)).map { _ in try DatabaseQueue(path: path, configuration: configuration) }
    }

    /// Runs `block` (one statement) on the next connection in turn.
    func read<T>(_ block: (Database) throws -> T) throws -> T {
        let turn = next.wrappingAdd(1, ordering: .relaxed).oldValue
        return try connections[Int(UInt(bitPattern: turn) % UInt(connections.count))].unsafeRead(block)
    }
}
