import AgentJobsAPI
import AgentJobsCore
import AgentJobsSQLite
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import PostgresNIO
import Synchronization
import Testing

@testable import AgentJobsPostgres

/// A clock the test moves by hand.
final class TestClock: WallClock {
    private let current: Mutex<Date>

    init(_ start: Date = Timestamp.parse("2026-03-01T12:00:00Z")!) {
        current = Mutex(start)
    }

    func now() -> Date { current.withLock { $0 } }

    func advance(seconds: TimeInterval) {
        current.withLock { $0 += seconds }
    }

    func set(_ date: Date) {
        current.withLock { $0 = date }
    }
}

/// A read-only view of a decoded JSON document.
struct JSONTree: @unchecked Sendable, CustomStringConvertible {
    let value: Any?

    init(_ value: Any?) { self.value = value }

    init(data: ByteBuffer?) {
        guard let data, data.readableBytes > 0 else {
            value = nil
            return
        }
        value = try? JSONSerialization.jsonObject(with: Data(buffer: data), options: [.fragmentsAllowed])
    }

    subscript(key: String) -> JSONTree { JSONTree((value as? [String: Any])?[key]) }
    subscript(index: Int) -> JSONTree {
        guard let array = value as? [Any], index < array.count else { return JSONTree(nil) }
        return JSONTree(array[index])
    }

    var string: String? { value as? String }
    var int: Int? { (value as? NSNumber)?.intValue }
    var double: Double? { (value as? NSNumber)?.doubleValue }
    var bool: Bool? { value as? Bool }
    var array: [JSONTree] { (value as? [Any])?.map(JSONTree.init) ?? [] }
    var object: [String: Any]? { value as? [String: Any] }
    var isNull: Bool { value is NSNull }
    var exists: Bool { value != nil }
    var keys: Set<String> { Set(object?.keys ?? [:].keys) }

    var description: String {
        guard let value,
            let data = try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed, .sortedKeys])
        else { return "nil" }
        return String(decoding: data, as: UTF8.self)
    }
}

/// A response as a test sees it.
struct Reply: Sendable {
    var status: Int
    var headers: HTTPFields
    var json: JSONTree
    /// The body as text.
    var text: String = ""

    var errorCode: String? { json["error"]["code"].string }
    var errorMessage: String { json["error"]["message"].string ?? "" }
}

/// The stores the conformance tests run against: SQLite always, PostgreSQL when
/// `AGENT_JOBS_TEST_POSTGRES_URL` names a server (scripts/test and .ci/run start one).
enum StoreKind: String, Sendable, CaseIterable, CustomTestStringConvertible {
    case sqlite
    case postgres

    static var postgresURL: String? { ProcessInfo.processInfo.environment["AGENT_JOBS_TEST_POSTGRES_URL"] }
    static var available: [StoreKind] { postgresURL == nil ? [.sqlite] : [.sqlite, .postgres] }
    var testDescription: String { rawValue }
}

/// A store that can also run jobs.
typealias EngineStore = JobQueueStore

/// A store a test opened, with its PostgreSQL client running for as long as this value lives.
struct OpenedTestStore: Sendable {
    let store: any EngineStore
    let lifetime: ClientLifetime?
}

/// Runs a PostgreSQL client until released (tests open many stores; each pool closes with it).
final class ClientLifetime: Sendable {
    private let running: Task<Void, Never>

    init(_ client: PostgresClient) {
        running = Task { await client.run() }
    }

    deinit { running.cancel() }
}

/// Opens the store a URL names, as a restarted process would. `clock`: the PostgreSQL store's
/// time source instead of the database's clock (for tests that move time by hand).
func openStore(_ url: String, clock: (any WallClock)? = nil) throws -> OpenedTestStore {
    if url.hasPrefix("sqlite://") {
        return OpenedTestStore(store: try SQLiteJobStore(path: String(url.dropFirst("sqlite://".count))), lifetime: nil)
    }
    // One kept connection, not the default four: the suite runs many stores at once, each
    // opening its kept connections at start, within the test server's `max_connections`.
    let store = try PostgresJobStore(url: url, configuration: .init(keptConnections: 1), clock: clock)
    return OpenedTestStore(store: store, lifetime: ClientLifetime(store.client))
}

/// A fresh store (a temporary SQLite file, or a new PostgreSQL schema) with two orgs, their
/// tokens and a few job types.
struct TestEnvironment: Sendable {
    let directory: URL
    let store: any EngineStore
    /// Keeps a PostgreSQL store's client running.
    let lifetime: ClientLifetime?
    let databaseURL: String
    let clock: TestClock
    let writeA: String
    let readA: String
    let writeB: String
    let revokedA: String

    static let orgA = "org-a"
    static let orgB = "org-b"

    /// - Parameter start: the test clock's start (real time for tests that run the engine).
    static func make(
        _ kind: StoreKind = .sqlite, start: Date = Timestamp.parse("2026-03-01T12:00:00Z")!
    ) async throws -> TestEnvironment {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("agent-jobs-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let databaseURL: String
        switch kind {
        case .sqlite:
            databaseURL = "sqlite://" + directory.appendingPathComponent("jobs.sqlite").path
        case .postgres:
            let base = try #require(StoreKind.postgresURL)
            let schema = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
            let admin = try openStore(base)
            try await (admin.store as! PostgresJobStore).client.query(
                PostgresQuery(unsafeSQL: "CREATE SCHEMA \(schema)"))
            databaseURL = base + (base.contains("?") ? "&" : "?") + "search_path=\(schema)"
        }
        let clock = TestClock(Timestamp.truncated(start))
        // Tests that move time by hand start in the past; the PostgreSQL store then takes its
        // time from that clock. Tests that run the engine start now and use the database's.
        let opened = try openStore(databaseURL, clock: abs(start.timeIntervalSinceNow) > 3600 ? clock : nil)
        let store = opened.store
        try await store.migrate()
        let now = clock.now()
        for org in [orgA, orgB] {
            try await store.createOrganization(Organization(id: org, name: nil, createdAt: now))
        }
        func token(_ org: String, _ access: Set<Access>) async throws -> String {
            let generated = TokenSecret.generate()
            try await store.createToken(
                AppToken(
                    id: generated.id, orgID: org, access: access, name: nil,
                    secretHash: generated.secretHash, createdAt: now))
            return generated.token
        }
        let writeA = try await token(orgA, [.servicesWrite])
        let readA = try await token(orgA, [.servicesRead])
        let writeB = try await token(orgB, [.servicesWrite])
        let revokedA = try await token(orgA, [.servicesWrite])
        _ = try await store.revokeToken(id: TokenSecret.parse(revokedA)!.id, at: now)
        try await store.createJobType(
            JobType(id: "daily-report", orgID: nil, executor: .demo, defaultConfig: .init(), createdAt: now))
        try await store.createJobType(
            JobType(id: "private-a", orgID: orgA, executor: .demo, defaultConfig: .init(), createdAt: now))
        try await store.createJobType(
            JobType(
                id: "with-defaults", orgID: nil, executor: .demo,
                defaultConfig: .init(maxFollowUps: 2, maxTaskRetries: 5, startPrompt: "Type prompt"),
                createdAt: now))
        return TestEnvironment(
            directory: directory, store: store, lifetime: opened.lifetime, databaseURL: databaseURL, clock: clock,
            writeA: writeA, readA: readA, writeB: writeB,
            revokedA: revokedA)
    }

    /// Runs `body` against the router (no sockets).
    func withClient(
        configuration: APIConfiguration = .init(jitter: { 0.5 }),
        _ body: @Sendable (APIClient) async throws -> Void
    ) async throws {
        var logger = Logger(label: "test")
        logger.logLevel = .error
        let router = try buildRouter(store: store, clock: clock, configuration: configuration, logger: logger)
        let app = Application(router: router, logger: logger)
        try await app.test(.router) { client in
            try await body(APIClient(client: client))
        }
    }
}

/// Thin helpers over the test client.
struct APIClient: Sendable {
    let client: any TestClientProtocol

    func request(
        _ method: HTTPRequest.Method, _ uri: String, token: String?, body: String? = nil,
        headers extra: HTTPFields = [:], contentType: String? = "application/json"
    ) async throws -> Reply {
        var headers = extra
        if let token { headers[.authorization] = "Bearer \(token)" }
        if body != nil, let contentType, headers[.contentType] == nil { headers[.contentType] = contentType }
        let response = try await client.execute(
            uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
        return Reply(
            status: Int(response.status.code), headers: response.headers, json: JSONTree(data: response.body),
            text: String(buffer: response.body))
    }

    func create(
        _ body: String, token: String, query: String = "", headers: HTTPFields = [:]
    ) async throws -> Reply {
        try await request(.post, "/services/agent-jobs\(query)", token: token, body: body, headers: headers)
    }

    func list(_ query: String = "", token: String) async throws -> Reply {
        try await request(.get, "/services/agent-jobs\(query.isEmpty ? "" : "?" + query)", token: token)
    }
}

/// A create body for `org` with optional extra top-level members (raw JSON fragments).
func jobBody(
    org: String = TestEnvironment.orgA, jobType: String = "daily-report", code: String = "C123",
    extra: String = ""
) -> String {
    """
    {"target_channel": {"org_id": "\(org)", "platform": "slack", "type": "channel", "code": "\(code)",
      "data": {"channel_id": "\(code)"}},
     "job_type_id": "\(jobType)"\(extra.isEmpty ? "" : ", " + extra)}
    """
}

/// A deterministic generator (SplitMix64), so that a failing seed reproduces.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
