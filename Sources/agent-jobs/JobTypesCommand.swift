import AgentJobsCore
import ArgumentParser
import Foundation

extension ExecutorSpec.Kind: ExpressibleByArgument {}

struct JobTypesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "job-types", abstract: "Manage job types.", subcommands: [Create.self, List.self, Show.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List job types: one tab-separated line each (id, executor, org, timeout minutes, created).")

        @OptionGroup var options: DatabaseOptions

        func run() async throws {
            let location = try options.location()
            try await runWithStore(location) { store in
                for jobType in try await store.jobTypes() {
                    print(
                        [
                            jobType.id, jobType.executor.name, jobType.orgID ?? "-", "\(jobType.taskTimeoutMinutes)",
                            Timestamp.format(jobType.createdAt),
                        ].joined(separator: "\t"))
                }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show one job type as JSON (an http secret and --env values are not shown).")

        @OptionGroup var options: DatabaseOptions
        @Argument(help: "The job type's id.") var jobTypeID: String

        func run() async throws {
            let location = try options.location()
            let id = jobTypeID
            try await runWithStore(location) { store in
                guard let jobType = try await store.jobType(id: id) else {
                    throw AgentJobsError.notFound("job type '\(id)' not found")
                }
                print(JobTypeDescription(jobType).json)
            }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Create a job type run by a local program (command), an agent runtime (http) or the demo executor.")

        @OptionGroup var options: DatabaseOptions
        @Argument(help: "The job type's id.") var jobTypeID: String
        @Option(help: "command, http or demo.") var executor: ExecutorSpec.Kind
        @Option(help: "For --executor command: the program and its arguments.") var command: String?
        @Option(help: "For --executor http: the agent runtime's URL.") var url: String?
        @Option(help: "For --executor http: HMAC-SHA256 signing secret.") var secret: String?
        @Option(help: "Restrict the type to one organization.") var org: String?
        @Option(help: "Default config as JSON, e.g. '{\"max_task_retries\": 2}'.") var defaultConfig: String?
        @Option(
            name: .customLong("env"),
            help: ArgumentHelp(
                "For --executor command: NAME passes the server's value through, NAME=VALUE sets one (repeatable). "
                    + "Programs get only these and PATH, HOME, LANG, LC_ALL, TZ, TMPDIR.",
                valueName: "NAME[=VALUE]"))
        var environment: [String] = []
        @Option(
            help: ArgumentHelp("The longest one task may run, in minutes (fractions allowed).", valueName: "MINUTES"))
        var timeout: Double = JobType.defaultTaskTimeoutMinutes

        func validate() throws {
            guard TextRules.isIdentifier(jobTypeID) else {
                throw ValidationError("JOB_TYPE_ID must be 1-128 characters of letters, digits, '-', '_' or '.'")
            }
            _ = try executorSpec()
            _ = try parsedDefaultConfig()
            _ = try environmentVariables()
            do {
                try Bounds.checkMinutes(timeout, field: "--timeout", positive: true)
            } catch {
                throw ValidationError(error.message)
            }
        }

        func environmentVariables() throws -> [EnvironmentVariable] {
            guard !environment.isEmpty else { return [] }
            guard executor == .command else { throw ValidationError("--env is for --executor command") }
            do {
                return try environment.map(EnvironmentVariable.parse)
            } catch {
                throw ValidationError(error.message)
            }
        }

        func executorSpec() throws -> ExecutorSpec {
            switch executor {
            case .command:
                guard url == nil, secret == nil else {
                    throw ValidationError("--url and --secret are for --executor http")
                }
                guard let command, !command.trimmingCharacters(in: .whitespaces).isEmpty else {
                    throw ValidationError("--executor command needs --command 'PROG ARGS…'")
                }
                guard let words = ShellWords.split(command), let program = words.first else {
                    throw ValidationError("--command has an unterminated quote")
                }
                // A relative program path is resolved now, against this directory, and stored
                // absolute: the server's working directory does not matter.
                guard program.contains("/"), !program.hasPrefix("/") else { return .command(command) }
                let absolute = URL(
                    fileURLWithPath: program,
                    relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath, isDirectory: true)
                ).standardizedFileURL.path
                return .command(
                    ([ShellWords.quote(absolute)] + words.dropFirst().map(ShellWords.quote)).joined(separator: " "))
            case .http:
                guard command == nil else { throw ValidationError("--command is for --executor command") }
                guard let url, let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme?.lowercased()),
                    parsed.host?.isEmpty == false
                else { throw ValidationError("--executor http needs --url with an http(s) URL") }
                if let secret, secret.isEmpty { throw ValidationError("--secret must not be empty") }
                return .http(url: url, secret: secret)
            case .demo:
                guard command == nil, url == nil, secret == nil else {
                    throw ValidationError("--executor demo takes no --command, --url or --secret")
                }
                return .demo
            }
        }

        func parsedDefaultConfig() throws -> JobConfigOverrides {
            guard let defaultConfig else { return JobConfigOverrides() }
            guard
                let parsed = try? JSONSerialization.jsonObject(
                    with: Data(defaultConfig.utf8), options: [.fragmentsAllowed])
            else { throw ValidationError("--default-config is not valid JSON") }
            guard let object = parsed as? [String: Any] else {
                throw ValidationError("--default-config must be a JSON object of config fields")
            }
            let known = Set(JobConfigOverrides.fieldNames)
            if let unknown = object.keys.sorted().first(where: { !known.contains($0) }) {
                throw ValidationError(
                    "--default-config: unknown key '\(unknown)' (known: \(JobConfigOverrides.fieldNames.joined(separator: ", ")))"
                )
            }
            let overrides: JobConfigOverrides
            do {
                overrides = try JSONDecoder().decode(JobConfigOverrides.self, from: Data(defaultConfig.utf8))
            } catch let DecodingError.typeMismatch(_, context) {
                let field = context.codingPath.map(\.stringValue).joined(separator: ".")
                throw ValidationError(
                    "--default-config: \(field.isEmpty ? "must be a JSON object" : "\(field) has the wrong type")")
            } catch {
                throw ValidationError("--default-config must be a JSON object of config fields")
            }
            do {
                try overrides.validate(prefix: "--default-config")
            } catch {
                throw ValidationError(error.message)
            }
            return overrides
        }

        func run() async throws {
            let location = try options.location()
            let spec = try executorSpec()
            let defaults = try parsedDefaultConfig()
            let variables = try environmentVariables()
            let timeout = self.timeout
            try await runWithStore(location) { store in
                if let org, try await store.organization(id: org) == nil {
                    throw AgentJobsError.notFound("organization '\(org)' does not exist")
                }
                try await store.createJobType(
                    JobType(
                        id: jobTypeID, orgID: org, executor: spec, defaultConfig: defaults, environment: variables,
                        taskTimeoutMinutes: timeout, createdAt: Date()))
                print("created job type \(jobTypeID) (\(spec.name) executor)")
            }
        }
    }
}
