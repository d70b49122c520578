import AgentJobsCore
import AgentJobsSQLite
import AsyncHTTPClient
import Foundation
import Subprocess
import Testing

#if canImport(System)
import System
#else
import SystemPackage
#endif

/// Runs the built `agent-jobs` executable.
struct CLI {
    struct Outcome {
        var status: Int32
        var stdout: String
        var stderr: String
        var firstErrorLine: String { stderr.split(separator: "\n").first.map(String.init) ?? "" }
    }

    static var executable: URL {
        let testBinary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var directory = testBinary.deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("agent-jobs")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(
            ".build/debug/agent-jobs")
    }

    /// Runs the binary (swift-subprocess: Foundation's `Process` crashes under concurrent
    /// launches on this toolchain, and the CLI cases run in parallel).
    static func run(_ arguments: [String], database: String, directory: URL? = nil) async throws -> Outcome {
        let result = try await Subprocess.run(
            .path(FilePath(executable.path)), arguments: Arguments(arguments),
            environment: .inherit.updating(["AGENT_JOBS_DATABASE_URL": database]),
            workingDirectory: directory.map { FilePath($0.path) }, output: .string(limit: 1 << 24),
            error: .string(limit: 1 << 24))
        let status: Int32
        switch result.terminationStatus {
        case .exited(let code): status = code
        case .signaled(let signal): status = 128 + signal
        }
        return Outcome(
            status: status, stdout: result.standardOutput, stderr: result.standardError)
    }
}

@Suite("The agent-jobs command line")
struct CLITests {
    @Test(
        "a CLI-created token works over HTTP, is listed without its secret, and fails once revoked",
        arguments: StoreKind.available)
    func tokenLifecycle(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        let db = env.databaseURL
        #expect(try await CLI.run(["orgs", "create", "acme", "--name", "Acme"], database: db).status == 0)
        let created = try await CLI.run(
            ["tokens", "create", "--org", "acme", "--access", "services:write", "--name", "ci"], database: db)
        #expect(created.status == 0, "\(created.stderr)")
        let token = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(token.hasPrefix("aj_"))
        #expect(!token.contains("\n"), "stdout holds the token and nothing else")

        let type = try await CLI.run(
            [
                "job-types", "create", "acme-report", "--executor", "http", "--url", "http://127.0.0.1:9/agent",
                "--secret", "s3cret", "--org", "acme", "--default-config", #"{"max_task_retries": 2}"#,
            ], database: db)
        #expect(type.status == 0, "\(type.stderr)")

        try await env.withClient { api in
            let reply = try await api.create(jobBody(org: "acme", jobType: "acme-report"), token: token)
            #expect(reply.status == 201)
            #expect(reply.json["data"]["config"]["max_task_retries"].int == 2)
        }

        let listed = try await CLI.run(["tokens", "list", "--org", "acme"], database: db)
        #expect(listed.status == 0)
        let parts = listed.stdout.split(separator: "\n").first?.split(separator: "\t").map(String.init) ?? []
        let id = String(token.split(separator: "_")[1])
        #expect(parts.count == 6)
        #expect(parts.first == id)
        #expect(parts[1] == "acme")
        #expect(parts[2] == "services:write")
        #expect(parts[3] == "ci")
        #expect(parts[5] == "-")
        #expect(!listed.stdout.contains(String(token.split(separator: "_")[2])), "never the secret")

        #expect(try await CLI.run(["tokens", "revoke", id], database: db).status == 0)
        let afterRevoke = try await CLI.run(["tokens", "list", "--org", "acme"], database: db)
        #expect(afterRevoke.stdout.split(separator: "\t").count == 6)
        #expect(!afterRevoke.stdout.hasSuffix("\t-\n"))
        try await env.withClient { api in
            let reply = try await api.list(token: token)
            #expect(reply.status == 401)
        }
    }

    @Test("revoke by the token itself")
    func revokeByToken() async throws {
        let env = try await TestEnvironment.make()
        let db = env.databaseURL
        let token = try await CLI.run(
            ["tokens", "create", "--org", TestEnvironment.orgA, "--access", "services:read"], database: db
        )
        .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try await CLI.run(["tokens", "revoke", token], database: db).status == 0)
        try await env.withClient { api in
            let awaited1 = try await api.list(token: token)
            #expect(awaited1.status == 401)
        }
    }

    @Test(
        "exit 64 for usage errors, 1 for other failures; stderr's first line names the problem",
        arguments: [
            (["tokens", "create", "--org", "org-a"], Int32(64), "access"),
            (["tokens", "create", "--org", "org-a", "--access", "services:admin"], 64, "access"),
            (["orgs", "create"], 64, "org"),
            (["job-types", "create", "t1", "--executor", "command"], 64, "--command"),
            (["job-types", "create", "t1", "--executor", "http", "--url", "not a url"], 64, "--url"),
            (["job-types", "create", "t1", "--executor", "ftp"], 64, "executor"),
            (
                [
                    "job-types", "create", "t1", "--executor", "command", "--command", "true", "--default-config",
                    #"{"max_task_retries": -1}"#,
                ], 64, "max_task_retries"
            ),
            (
                ["job-types", "create", "t1", "--executor", "command", "--command", "true", "--default-config", "[1]"],
                64, "default-config"
            ),
            (
                [
                    "job-types", "create", "t1", "--executor", "command", "--command", "true", "--default-config",
                    #"{"task_retry_interval": 1e15}"#,
                ], 64, "task_retry_interval"
            ),
            (
                [
                    "job-types", "create", "t1", "--executor", "command", "--command", "true", "--default-config",
                    #"{"max_follow_ups": 10001}"#,
                ], 64, "max_follow_ups"
            ),
            (
                ["job-types", "create", "t1", "--executor", "command", "--command", "true", "--timeout", "0"], 64,
                "--timeout"
            ),
            (
                ["job-types", "create", "t1", "--executor", "command", "--command", "true", "--timeout", "600000"], 64,
                "--timeout"
            ),
            (
                ["job-types", "create", "t1", "--executor", "command", "--command", "true", "--env", "1BAD"], 64,
                "--env"
            ),
            (["job-types", "create", "t1", "--executor", "demo", "--env", "TOKEN"], 64, "--env"),
            (["serve", "--max-running-per-org", "0"], 64, "max-running-per-org"),
            (["serve", "--host", "no such host.invalid"], 64, "--host"),
            (["serve", "--public-url", "ftp://example.com"], 64, "--public-url"),
            (["serve", "--public-url", "not a url"], 64, "--public-url"),
            (
                [
                    "job-types", "create", "t1", "--executor", "command", "--command", "true", "--default-config",
                    #"{"max_task_retriez": 2}"#,
                ], 64, "unknown key 'max_task_retriez'"
            ),
            (
                [
                    "job-types", "create", "t1", "--executor", "command", "--command", "true", "--default-config",
                    "{not json",
                ],
                64, "not valid JSON"
            ),
            (
                ["job-types", "create", "t1", "--executor", "command", "--command", "'agent.sh"], 64,
                "unterminated quote"
            ),
            (["serve", "--port", "0"], 64, "port"),
            (["serve", "--role", "boss"], 64, "role"),
            (["serve", "--concurrency", "0"], 64, "concurrency"),
            (["serve", "--lease-seconds", "0.5"], 64, "lease-seconds"),
            (["serve", "--drain-seconds", "-1"], 64, "drain-seconds"),
            (["serve", "--log-level", "loud"], 64, "log-level"),
            (["migrate", "--database", "mysql://x"], 64, "database"),
            (["migrate", "--database", "postgres://u:secret@db/x?prepared_statements=yes"], 64, "prepared_statements"),
            (["migrate", "--database", "postgres://u:secret@db/x?sslmode=verify"], 64, "sslmode"),
            (["migrate", "--database", "postgres://u:secret@db/x?connect_timeout=5"], 64, "connect_timeout"),
            (["tokens", "create", "--org", "nosuch", "--access", "services:read"], 1, "nosuch"),
            (["tokens", "revoke", "0123456789abcdef"], 1, "token"),
            (["orgs", "create", "org-a"], 1, "already exists"),
            (
                ["job-types", "create", "daily-report", "--executor", "command", "--command", "true"], 1,
                "already exists"
            ),
            (
                ["job-types", "create", "t2", "--executor", "command", "--command", "true", "--org", "nosuch"], 1,
                "nosuch"
            ),
        ])
    func exitCodes(arguments: [String], status: Int32, mentions: String) async throws {
        let env = try await TestEnvironment.make()
        let outcome = try await CLI.run(arguments, database: env.databaseURL)
        #expect(outcome.status == status, "\(arguments): \(outcome.stderr)")
        #expect(outcome.firstErrorLine.lowercased().contains(mentions.lowercased()), "\(outcome.firstErrorLine)")
        #expect(outcome.firstErrorLine.hasPrefix("error: "), "one prefix for every error: \(outcome.firstErrorLine)")
    }

    @Test("a relative --command path is resolved when the job type is created and stored absolute")
    func relativeCommandPath() async throws {
        let env = try await TestEnvironment.make()
        let scripts = try Scripts(in: env.directory)
        _ = try scripts.write("agent.sh", "echo hi")
        let outcome = try await CLI.run(
            ["job-types", "create", "relative", "--executor", "command", "--command", "./agent.sh --flag 'two words'"],
            database: env.databaseURL, directory: scripts.directory)
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let stored = try #require(try await env.store.jobType(id: "relative"))
        let absolute = scripts.directory.appendingPathComponent("agent.sh").standardizedFileURL.path
        guard case .command(let line) = stored.executor else {
            Issue.record("not a command: \(stored.executor)")
            return
        }
        #expect(ShellWords.split(line) == [absolute, "--flag", "two words"])
    }

    @Test("serve on a port in use says which port, before anything starts")
    func portInUse() async throws {
        let env = try await TestEnvironment.make()
        let (descriptor, port) = boundSocket()
        defer { close(descriptor) }
        #expect(listen(descriptor, 1) == 0)
        let outcome = try await CLI.run(["serve", "--port", "\(port)"], database: env.databaseURL)
        #expect(outcome.status == 1)
        #expect(outcome.firstErrorLine == "error: port \(port) on 127.0.0.1 is already in use", "\(outcome.stderr)")
        #expect(!outcome.stderr.contains("engine started"), "nothing started")
    }

    @Test("--version, orgs list, job-types list and show (secrets never shown)")
    func listingCommands() async throws {
        let env = try await TestEnvironment.make()
        let version = try await CLI.run(["--version"], database: env.databaseURL)
        #expect(version.status == 0 && version.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0.3.0")
        let orgs = try await CLI.run(["orgs", "list"], database: env.databaseURL)
        #expect(orgs.status == 0)
        #expect(
            orgs.stdout.split(separator: "\n").map { $0.split(separator: "\t").first.map(String.init) } == [
                "org-a", "org-b",
            ])
        let created = try await CLI.run(
            [
                "job-types", "create", "signed", "--executor", "http", "--url", "http://127.0.0.1:9/agent", "--secret",
                "s3cr3t-value",
            ], database: env.databaseURL)
        #expect(created.status == 0, "\(created.stderr)")
        let withEnv = try await CLI.run(
            [
                "job-types", "create", "with-env", "--executor", "command", "--command", "true", "--env", "TOKEN",
                "--env", "MODE=hidden-value", "--timeout", "2.5",
            ], database: env.databaseURL)
        #expect(withEnv.status == 0, "\(withEnv.stderr)")
        let types = try await CLI.run(["job-types", "list"], database: env.databaseURL)
        let ids = types.stdout.split(separator: "\n").compactMap { $0.split(separator: "\t").first.map(String.init) }
        #expect(ids == ids.sorted(), "listed by id")
        #expect(ids.contains("signed") && ids.contains("with-env") && ids.contains("daily-report"))
        let shown = try await CLI.run(["job-types", "show", "signed"], database: env.databaseURL)
        #expect(shown.status == 0)
        #expect(shown.stdout.contains(#""signed" : true"#) && !shown.stdout.contains("s3cr3t-value"))
        let shownEnv = try await CLI.run(["job-types", "show", "with-env"], database: env.databaseURL)
        #expect(shownEnv.stdout.contains(#""timeout_minutes" : 2.5"#), "\(shownEnv.stdout)")
        #expect(shownEnv.stdout.contains("TOKEN") && !shownEnv.stdout.contains("hidden-value"))
        let missing = try await CLI.run(["job-types", "show", "nope"], database: env.databaseURL)
        #expect(missing.status == 1 && missing.firstErrorLine.contains("nope"))
    }

    @Test("serve's log lines carry UTC timestamps with milliseconds")
    func logTimestamps() async throws {
        let env = try await TestEnvironment.make()
        let server = try await ServeProcess(
            database: env.databaseURL, port: try freePort(), arguments: [],
            output: env.directory.appendingPathComponent("serve.log"))
        try await server.waitUntilReady(HTTPClient.shared)
        await server.terminate()
        let lines = try String(contentsOf: server.output, encoding: .utf8).split(separator: "\n")
        let first = try #require(lines.first { $0.contains("engine started") })
        #expect(first.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info agent-jobs: .*/) != nil, "\(first)")
    }
}
