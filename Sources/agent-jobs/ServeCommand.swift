import AgentJobsAPI
import AgentJobsCore
import ArgumentParser
import Foundation
import Hummingbird
import Logging

/// Which parts of the service a process runs.
enum ServeRole: String, ExpressibleByArgument, CaseIterable {
    case all, api, worker
}

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the HTTP API and, for roles all/worker, the scheduler and workers.")

    @OptionGroup var options: DatabaseOptions
    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on.") var port = 8080
    @Option(help: "all, api or worker.") var role: ServeRole = .all
    @Option(help: "Task slots of this process's workers.") var concurrency = 16
    @Flag(help: "Seed org org123 and job type daily-report (demo executor) and print a write token.")
    var demo = false
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical (env: AGENT_JOBS_LOG_LEVEL).")
    var logLevel: String = ProcessInfo.processInfo.environment["AGENT_JOBS_LOG_LEVEL"] ?? "info"

    func validate() throws {
        guard (1...65535).contains(port) else { throw ValidationError("--port must be between 1 and 65535") }
        guard (1...4096).contains(concurrency) else { throw ValidationError("--concurrency must be between 1 and 4096") }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
    }

    func run() async throws {
        let location = try options.location()
        var logger = Logger(label: "agent-jobs")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        try await runReportingFailures {
            let store = try await StoreFactory.open(location)
            if demo {
                let token = try await DemoSeed.seed(store)
                // Unbuffered, so the token shows at once even when stdout is a pipe.
                FileHandle.standardOutput.write(Data("AGENT_JOBS_DEMO_TOKEN=\(token)\n".utf8))
            }
            let router = try buildRouter(store: store, logger: logger)
            let app = Application(
                router: router,
                configuration: .init(address: .hostname(host, port: port), serverName: "agent-jobs"),
                logger: logger)
            try await app.runService()
        }
    }
}

/// What `serve --demo` seeds: org `org123`, job type `daily-report`, and a fresh write token.
enum DemoSeed {
    static let orgID = "org123"
    static let jobTypeID = "daily-report"

    /// Seeds what is absent and returns a new write token for `org123`.
    static func seed(_ store: any JobStore) async throws -> String {
        if try await store.organization(id: orgID) == nil {
            try await store.createOrganization(Organization(id: orgID, name: "Demo organization", createdAt: Date()))
        }
        if try await store.jobType(id: jobTypeID) == nil {
            try await store.createJobType(
                JobType(id: jobTypeID, orgID: nil, executor: .demo, defaultConfig: .init(), createdAt: Date()))
        }
        let generated = TokenSecret.generate()
        try await store.createToken(
            AppToken(
                id: generated.id, orgID: orgID, access: [.servicesWrite], name: "demo",
                secretHash: generated.secretHash, createdAt: Date()))
        return generated.token
    }
}
