import Crypto
import Foundation

/// One progress report of a running task (`POST …/tasks/{task_id}/progress`).
public struct ProgressEntry: Sendable, Hashable {
    public var id: String
    public var jobID: String
    public var taskID: String
    public var message: String?
    public var data: JSONValue
    public var createdAt: Date

    public init(id: String, jobID: String, taskID: String, message: String?, data: JSONValue, createdAt: Date) {
        self.id = id
        self.jobID = jobID
        self.taskID = taskID
        self.message = message
        self.data = data
        self.createdAt = createdAt
    }

    /// The most entries a task shows in `GET /services/agent-jobs/{job_id}` (the latest ones).
    public static let shownPerTask = 20
    /// The largest request body of a progress report.
    public static let maxBodyBytes = 16 * 1024
}

/// What recording a progress report did.
public enum RecordProgressOutcome: Sendable, Hashable {
    case recorded(ProgressEntry)
    /// No such task of that job, or the token is not this task's.
    case unauthorized
    /// The token is the task's, but the task is no longer `RUNNING`.
    case notRunning(TaskStatus)
}

/// The bearer token a running task reports progress with: 256 random bits, handed to the agent
/// in its task document; only the SHA-256 hash is stored, and it is accepted only while the
/// task is `RUNNING`.
public enum ProgressToken {
    /// A new token and the hash to store.
    public static func generate() -> (token: String, hash: String) {
        let token = "ajp_" + TokenSecret.hex(SecureRandom.bytes(32))
        return (token, hash(token))
    }

    /// The stored form of `token`.
    public static func hash(_ token: String) -> String {
        TokenSecret.sha256Hex(token)
    }
}
