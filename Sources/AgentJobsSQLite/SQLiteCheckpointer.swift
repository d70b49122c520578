import GRDB

/// Copies the write-ahead log's pages into the database file in the background, on a
/// connection of its own, so that SQLite's one writer does not stop to do it.
///
/// SQLite checkpoints on the connection that commits once the WAL holds
/// `wal_autocheckpoint` pages (1,000 by default): the writer then copies them and fsyncs the
/// database file before its next write, which was about a twentieth of its time in a drain.
/// With this running, the writer's own threshold is `SQLiteJobStore.Configuration.
/// writerCheckpointPages` (10,000), a safety net should this fall behind. A passive checkpoint
/// waits for no one: it copies what no reader still needs and leaves the rest for next time.
public final class SQLiteCheckpointer: Sendable {
    let path: String
    /// The pause between two checkpoints.
    public let interval: Duration

    public init(path: String, interval: Duration = .milliseconds(100)) {
        self.path = path
        self.interval = interval
    }

    /// One passive checkpoint on `connection`: the pages the WAL holds, and how many of them are
    /// now in the database file.
    public static func checkpoint(_ connection: DatabaseQueue) async throws -> (walPages: Int, copied: Int) {
        try await connection.writeWithoutTransaction { db in
            let (frames, copied) = try db.checkpoint(.passive)
            return (frames, copied)
        }
    }

    /// Opens the checkpointer's connection to the store's file.
    public func connect() throws -> DatabaseQueue {
        try DatabaseQueue(path: path)
    }

    /// Checkpoints every `interval` until cancelled, then throws `CancellationError`. A failed
    /// checkpoint (the file busy with another process's checkpoint) is tried again at the next
    /// turn.
    public func run() async throws {
        let connection = try connect()
        while true {
            try Task.checkCancellation()
            _ = try? await Self.checkpoint(connection)
            try await Task.sleep(for: interval)
        }
    }
}
