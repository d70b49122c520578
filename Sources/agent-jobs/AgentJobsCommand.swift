import AgentJobsCore
import ArgumentParser
import Foundation

/// `agent-jobs`: the service and its administration commands (started by `main.swift`).
struct AgentJobsCommand: AsyncParsableCommand {
    /// The version `agent-jobs --version` prints.
    static let version = "0.3.0"

    static let configuration = CommandConfiguration(
        commandName: "agent-jobs",
        abstract: "Schedule work for AI agents: a job service with a REST API.",
        version: AgentJobsCommand.version,
        subcommands: [
            ServeCommand.self, MigrateCommand.self, OrgsCommand.self, TokensCommand.self, JobTypesCommand.self,
            PruneCommand.self,
        ])

    /// Parses and runs the command. Every error reaches stderr with the same `error:` prefix,
    /// whether argument parsing (exit 64) or the command itself (exit 1) produced it.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            if error is ExitCode { Foundation.exit(code.rawValue) }  // already reported
            var text = fullMessage(for: error)
            if code == .success {
                if !text.isEmpty { print(text) }  // --help, --version
                Foundation.exit(code.rawValue)
            }
            if text.hasPrefix("Error: ") { text = "error: " + text.dropFirst("Error: ".count) }
            if !text.hasPrefix("error: ") { text = "error: " + text }
            FileHandle.standardError.write(Data((text + "\n").utf8))
            Foundation.exit(code.rawValue)
        }
    }
}

/// `--database URL`, shared by every subcommand.
struct DatabaseOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Database URL: sqlite://FILE or postgres://user:pass@host:port/db (env: AGENT_JOBS_DATABASE_URL).",
            valueName: "URL"))
    var database: String = ProcessInfo.processInfo.environment["AGENT_JOBS_DATABASE_URL"] ?? DatabaseLocation.defaultURL

    func location() throws -> DatabaseLocation {
        do {
            return try DatabaseLocation(url: database)
        } catch {
            throw ValidationError("--database: \(error.message)")
        }
    }
}

/// Runs `body`, printing a failure's message as stderr's first line and exiting with 1.
func runReportingFailures(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as ExitCode {
        throw error
    } catch let error as ValidationError {
        throw error
    } catch let error as AgentJobsError {
        FileHandle.standardError.write(Data("error: \(error.message)\n".utf8))
        throw ExitCode.failure
    } catch {
        FileHandle.standardError.write(Data("error: \(error)\n".utf8))
        throw ExitCode.failure
    }
}

/// Opens the store (migrated), runs `body` with it, and reports failures as `runReportingFailures`.
func runWithStore(_ location: DatabaseLocation, _ body: @Sendable (any JobQueueStore) async throws -> Void) async throws
{
    try await runReportingFailures {
        try await StoreFactory.withStore(location, body)
    }
}
