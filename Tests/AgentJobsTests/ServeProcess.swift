import AsyncHTTPClient
import Foundation
import Subprocess
import Synchronization

#if canImport(System)
import System
#else
import SystemPackage
#endif

#if canImport(Glibc)
import Glibc
#endif

/// A `serve` process of the built binary, launched with swift-subprocess (Foundation's
/// `Process.run()` crashes when launches overlap on this toolchain, and the suites run in
/// parallel). Its standard output and error go to `output`.
final class ServeProcess: Sendable {
    let port: Int
    let output: URL
    let processIdentifier: pid_t
    /// The launch, until the process has exited and been reaped: its termination status.
    private let exit: Task<TerminationStatus, any Error>
    private let exited: ExitFlag

    init(
        database: String, port: Int, arguments: [String], output: URL, environment: [String: String] = [:]
    )
        async throws
    {
        self.port = port
        self.output = output
        let file = try FileDescriptor.open(
            FilePath(output.path), .writeOnly, options: [.create, .truncate], permissions: .ownerReadWrite)
        let (launched, launch) = AsyncThrowingStream<pid_t, any Error>.makeStream()
        let exited = ExitFlag()
        var updated: [Environment.Key: String?] = [:]
        for (key, value) in environment { updated[Environment.Key(stringLiteral: key)] = value }
        let configuration = Subprocess.Configuration(
            executable: .path(FilePath(CLI.executable.path)),
            arguments: Arguments(["serve", "--port", "\(port)", "--database", database] + arguments),
            environment: .inherit.updating(updated))
        exit = Task {
            defer {
                exited.set()
                try? file.close()
            }
            do {
                let result = try await Subprocess.run(
                    configuration, input: .none,
                    output: .fileDescriptor(file, closeAfterSpawningProcess: false),
                    error: .fileDescriptor(file, closeAfterSpawningProcess: false)
                ) { execution in
                    launch.yield(execution.processIdentifier.value)
                    launch.finish()
                }
                return result.terminationStatus
            } catch {
                launch.finish(throwing: error)
                throw error
            }
        }
        self.exited = exited
        var pids = launched.makeAsyncIterator()
        guard let pid = try await pids.next() else { throw TimedOut(description: "serve did not start") }
        processIdentifier = pid
    }

    /// Whether the process has not exited yet.
    var isRunning: Bool { !exited.isSet }

    /// Waits (bounded) until `/readyz` answers.
    func waitUntilReady(_ client: HTTPClient) async throws {
        for _ in 0..<300 {
            if let response = try? await client.execute(
                HTTPClientRequest(url: "http://127.0.0.1:\(port)/readyz"), timeout: .seconds(1)),
                response.status == .ok
            {
                return
            }
            guard isRunning else { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TimedOut(
            description: "serve did not become ready: \((try? String(contentsOf: output, encoding: .utf8)) ?? "")")
    }

    /// Kills the process (`SIGKILL`) and waits until it is gone.
    func kill9() async {
        kill(processIdentifier, SIGKILL)
        _ = await exit.result
    }

    /// Asks the process to shut down (`SIGTERM`) and waits until it has; its termination status
    /// (`nil` if it could not be read).
    @discardableResult
    func terminate() async -> TerminationStatus? {
        sendTerminate()
        return try? await exit.value
    }

    /// Asks the process to shut down (`SIGTERM`) without waiting: for `defer`, which cannot
    /// wait. The launch reaps it when it exits.
    func sendTerminate() {
        if isRunning { kill(processIdentifier, SIGTERM) }
    }
}

/// Set once a process has exited (shared with the task that launched it).
private final class ExitFlag: Sendable {
    private let value = Mutex(false)
    var isSet: Bool { value.withLock { $0 } }
    func set() { value.withLock { $0 = true } }
}
