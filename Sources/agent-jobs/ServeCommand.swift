import AgentJobsAPI
import AgentJobsCore
import AgentJobsEngine
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
    @Option(
        help:
            "all (the API and the workers), api (only the API; creates and cancels still wake the workers through NOTIFY) or worker (the scheduler and workers; its port serves only /healthz, /readyz, /metrics and /openapi.yaml)."
    )
    var role: ServeRole = .all
    @Option(help: "Task slots of this process's workers.") var concurrency = 16
    @Flag(help: "Seed org org123 and job type daily-report (demo executor) and print a write token.")
    var demo = false
    @Option(help: "Seconds a task's lease lasts without renewal (a dead worker's task is recovered after this).")
    var leaseSeconds: Double = 15
    @Option(help: "Seconds in-flight tasks may finish on shutdown before they are handed back.")
    var drainSeconds: Double = 10
    @Option(help: "The most tasks one organization may run on this process at once (default: no cap).")
    var maxRunningPerOrg: Int?
    @Option(
        help:
            "The base URL agents reach this service at, for the task documents' progress_url (default: http://<host>:<port>)."
    )
    var publicURL: String?
    @Option(
        help:
            "Delete finished jobs older than this, e.g. completed=7d,failed=30d,canceled=7d (units s, m, h, d; a status left out is kept; default: keep everything)."
    )
    var retention: String = ""
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical (env: AGENT_JOBS_LOG_LEVEL).")
    var logLevel: String = ProcessInfo.processInfo.environment["AGENT_JOBS_LOG_LEVEL"] ?? "info"

    func validate() throws {
        guard (1...65535).contains(port) else { throw ValidationError("--port must be between 1 and 65535") }
        guard PortCheck.isListenable(host: host) else {
            throw ValidationError("--host '\(host)' is not an address this machine can listen on")
        }
        guard (1...100_000).contains(concurrency) else {
            throw ValidationError("--concurrency must be between 1 and 100000")
        }
        guard leaseSeconds >= 1, leaseSeconds <= 3600 else {
            throw ValidationError("--lease-seconds must be between 1 and 3600")
        }
        guard drainSeconds >= 0, drainSeconds <= 3600 else {
            throw ValidationError("--drain-seconds must be between 0 and 3600")
        }
        if let maxRunningPerOrg, !(1...10_000).contains(maxRunningPerOrg) {
            throw ValidationError("--max-running-per-org must be between 1 and 10000")
        }
        if let publicURL {
            guard let url = URL(string: publicURL), ["http", "https"].contains(url.scheme?.lowercased() ?? ""),
                url.host?.isEmpty == false
            else {
                throw ValidationError(
                    "--public-url must be an http:// or https:// URL with a host (got '\(publicURL)')")
            }
        }
        do {
            _ = try RetentionPolicy.parse(retention)
        } catch {
            throw ValidationError(error.message)
        }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
    }

    /// `http://host:port`, with a wildcard address read as the loopback one.
    var defaultPublicURL: String {
        let reachable = ["0.0.0.0", "::", "[::]"].contains(host) ? "127.0.0.1" : host
        let shown = reachable.contains(":") && !reachable.hasPrefix("[") ? "[\(reachable)]" : reachable
        return "http://\(shown):\(port)"
    }

    func run() async throws {
        let location = try options.location()
        LoggingSystem.bootstrap { label in LogLineHandler(label: label) }
        var logger = Logger(label: "agent-jobs")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        try await runReportingFailures {
            try PortCheck.ensureAvailable(host: host, port: port)
            let opened = try StoreFactory.open(location)
            let store = opened.store
            let telemetry = Telemetry(registry: Telemetry.bootstrap())
            // Services stop in the reverse order: the server, the engine (draining its tasks),
            // the agent HTTP client, then the database pool.
            var services = opened.services
            let migrated = AsyncSignal()
            var engine: JobEngine?
            if role != .api {
                let openFiles = FileDescriptorLimit.raise()
                if openFiles > 0, openFiles < concurrency * 3 + 256 {
                    logger.warning(
                        "the open-file limit may be too low for --concurrency (a command agent takes 3 pipes, an HTTP agent a socket)",
                        metadata: ["limit": "\(openFiles)", "concurrency": "\(concurrency)"])
                }
                let agentHTTP = AgentHTTPClient(maxConnectionsPerHost: concurrency)
                var executors = ExecutorRegistry()
                executors.register(.command, CommandExecutor())
                executors.register(.http, HTTPExecutor(clients: agentHTTP))
                executors.register(
                    .demo,
                    DemoExecutor(executionLog: ProcessInfo.processInfo.environment["AGENT_JOBS_DEMO_EXECUTION_LOG"]))
                var engineConfiguration = EngineConfiguration(
                    concurrency: concurrency, leaseDuration: .milliseconds(Int64(leaseSeconds * 1000)),
                    heartbeatInterval: .milliseconds(Int64(leaseSeconds * 1000 / 3)),
                    drainTimeout: .milliseconds(Int64(drainSeconds * 1000)),
                    maxRunningPerOrg: maxRunningPerOrg)
                engineConfiguration.publicURL = publicURL ?? defaultPublicURL
                engineConfiguration.retention = try RetentionPolicy.parse(retention)
                let started = JobEngine(
                    queue: store, executors: executors, configuration: engineConfiguration, logger: logger)
                services.append(agentHTTP)
                services.append(StartAfter(gate: migrated, service: started))
                engine = started
            }
            var apiConfiguration = APIConfiguration(
                onJobCreated: { [engine] job in
                    telemetry.jobsCreated.increment()
                    engine?.wake(dueAt: job.scheduledAt)
                },
                onJobCanceled: { [engine] job in engine?.jobCanceled(job.id) },
                servesJobsAPI: role != .worker)
            apiConfiguration.onJobDue = { [engine] dueAt in engine?.wake(dueAt: dueAt) }
            apiConfiguration.onScheduleChanged = { [engine] schedule in
                engine?.scheduleChanged(nextRunAt: schedule.nextRunAt)
            }
            let router = try buildRouter(
                store: store, configuration: apiConfiguration, logger: logger,
                metrics: { await telemetry.render(queue: store) })
            var app = Application(
                router: router,
                configuration: .init(address: .hostname(host, port: port), serverName: "agent-jobs"),
                services: services,
                logger: logger)
            let demo = self.demo
            app.beforeServerStarts {
                try await store.migrate()
                if demo {
                    let token = try await DemoSeed.seed(store)
                    // Unbuffered, so the token shows at once even when stdout is a pipe.
                    FileHandle.standardOutput.write(Data("AGENT_JOBS_DEMO_TOKEN=\(token)\n".utf8))
                }
                migrated.signal()
            }
            try await app.runService()
        }
    }
}

private func ignoringConflict(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as AgentJobsError where error.code == .conflict {}
}

/// What `serve --demo` seeds: org `org123`, job type `daily-report`, and a fresh write token.
enum DemoSeed {
    static let orgID = "org123"
    static let jobTypeID = "daily-report"

    /// Seeds what is absent and returns a new write token for `org123`.
    /// Several nodes may seed at once: losing the race to create a record is fine.
    static func seed(_ store: any JobStore) async throws -> String {
        if try await store.organization(id: orgID) == nil {
            try await ignoringConflict {
                try await store.createOrganization(
                    Organization(id: orgID, name: "Demo organization", createdAt: Date()))
            }
        }
        if try await store.jobType(id: jobTypeID) == nil {
            try await ignoringConflict {
                try await store.createJobType(
                    JobType(id: jobTypeID, orgID: nil, executor: .demo, defaultConfig: .init(), createdAt: Date()))
            }
        }
        let generated = TokenSecret.generate()
        try await store.createToken(
            AppToken(
                id: generated.id, orgID: orgID, access: [.servicesWrite], name: "demo",
                secretHash: generated.secretHash, createdAt: Date()))
        return generated.token
    }
}
