import AgentJobsCore
import Foundation

/// What `job-types show` prints: the job type without its secrets (an http secret is shown
/// as set or not; `--env NAME=VALUE` values are hidden, only their names show).
struct JobTypeDescription: Encodable {
    var id: String
    var executor: String
    var command: String?
    var url: String?
    var signed: Bool?
    var org: String?
    var defaultConfig: JobConfigOverrides
    var environment: [String]
    var timeoutMinutes: Double
    var createdAt: String

    enum CodingKeys: String, CodingKey {
        case id, executor, command, url, signed, org
        case defaultConfig = "default_config"
        case environment
        case timeoutMinutes = "timeout_minutes"
        case createdAt = "created_at"
    }

    init(_ jobType: JobType) {
        id = jobType.id
        executor = jobType.executor.name
        switch jobType.executor {
        case .command(let line): command = line
        case .http(let address, let secret):
            url = address
            signed = secret != nil
        case .demo: break
        }
        org = jobType.orgID
        defaultConfig = jobType.defaultConfig
        environment = jobType.environment.map { variable in
            switch variable.value {
            case .passThrough: variable.name
            case .set: "\(variable.name)=…"
            }
        }
        timeoutMinutes = jobType.taskTimeoutMinutes
        createdAt = Timestamp.format(jobType.createdAt)
    }

    var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}
