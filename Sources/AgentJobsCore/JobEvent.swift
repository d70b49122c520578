import Foundation

/// Something that happened outside a job and that its agent waits for (a reply in the channel,
/// a webhook): recorded with `POST /services/agent-jobs/{job_id}/events` and delivered to
/// exactly one task, the first of the job that starts after it was recorded.
public struct JobEvent: Sendable, Hashable, Codable {
    public var id: String
    public var jobID: String
    public var type: String
    public var data: JSONValue
    public var createdAt: Date
    /// The task the event was delivered to; `nil` until one starts.
    public var deliveredToTaskID: String?

    public init(
        id: String, jobID: String, type: String, data: JSONValue, createdAt: Date, deliveredToTaskID: String? = nil
    ) {
        self.id = id
        self.jobID = jobID
        self.type = type
        self.data = data
        self.createdAt = createdAt
        self.deliveredToTaskID = deliveredToTaskID
    }

    enum CodingKeys: String, CodingKey {
        case id = "event_id"
        case jobID = "job_id"
        case type, data
        case createdAt = "created_at"
        case deliveredToTaskID = "delivered_to_task_id"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(jobID, forKey: .jobID)
        try container.encode(type, forKey: .type)
        try container.encode(data, forKey: .data)
        try container.encode(Timestamp.format(createdAt), forKey: .createdAt)
        try container.encode(deliveredToTaskID, forKey: .deliveredToTaskID)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        jobID = try container.decode(String.self, forKey: .jobID)
        type = try container.decode(String.self, forKey: .type)
        data = try container.decodeIfPresent(JSONValue.self, forKey: .data) ?? .null
        let created = try container.decode(String.self, forKey: .createdAt)
        guard let date = Timestamp.parse(created) else {
            throw DecodingError.dataCorruptedError(
                forKey: .createdAt, in: container, debugDescription: "not an RFC 3339 time")
        }
        createdAt = date
        deliveredToTaskID = try container.decodeIfPresent(String.self, forKey: .deliveredToTaskID)
    }

    /// The most events `GET /services/agent-jobs/{job_id}` shows (the latest ones).
    public static let shownPerJob = 100
    /// The largest request body of an event.
    public static let maxBodyBytes = 64 * 1024
}

/// An event as a client submits it, before it is stored.
public struct EventSubmission: Sendable, Hashable {
    public var type: String
    public var data: JSONValue

    public init(type: String, data: JSONValue) {
        self.type = type
        self.data = data
    }

    /// Checks `type`: 1 to 64 characters of `A-Z a-z 0-9 _ . : -`.
    public func validate() throws(AgentJobsError) {
        let bytes = Array(type.utf8)
        guard (1...64).contains(bytes.count),
            bytes.allSatisfy({ byte in
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                    || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: ":")
                    || byte == UInt8(ascii: "-")
            })
        else {
            throw .badRequest("type must be 1 to 64 characters of A-Z a-z 0-9 _ . : -")
        }
    }

    /// Identifies the submission for `Idempotency-Key` replays (the job, the type and the data).
    public func fingerprint(jobID: String) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(self.data)) ?? Data()
        return TokenSecret.hash(secret: jobID + "\n" + type + "\n" + String(decoding: data, as: UTF8.self))
    }
}

/// What recording an event did.
public enum RecordEventOutcome: Sendable, Hashable {
    /// Stored. `wakeAt`: the job's follow-up became due at this instant (the event woke it).
    case recorded(JobEvent, wakeAt: Date?)
    /// The same `Idempotency-Key` and body were seen before: the first event.
    case replayed(JobEvent)
    case notFound
    /// The job belongs to another org.
    case forbidden
    /// The job has ended: it takes no more events.
    case alreadyTerminal(JobStatus)
}
