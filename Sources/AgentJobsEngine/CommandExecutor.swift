import AgentJobsCore
import Foundation
import Subprocess
import Synchronization

#if canImport(Glibc)
import Glibc
#endif
#if canImport(System)
import System
#else
import SystemPackage
#endif

/// Runs a job type's program (swift-subprocess, no Foundation `Process`): the task document on
/// stdin; exit 0 with a JSON reply on stdout is that reply, exit 0 with other output completes
/// with it (trimmed), a non-zero exit fails with stderr (trimmed, last 4 KiB).
///
/// Each program runs in a process group of its own with an explicit environment (the
/// server's `PATH`, `HOME`, `LANG`, `LC_ALL`, `TZ`, `TMPDIR` and what its job type names,
/// nothing else). When the task is stopped (cancel, deadline, timeout, shutdown) the whole
/// group gets SIGTERM, and SIGKILL after the grace; when the program ends by itself, what it
/// left running in its group is ended the same way.
public struct CommandExecutor: TaskExecutor {
    /// Limits for one program run.
    public struct Configuration: Sendable {
        /// A program writing more than this to stdout fails (`output exceeds 1 MiB`).
        public var maxStdoutBytes: Int
        /// The last this-many bytes of stderr are kept.
        public var maxStderrBytes: Int
        /// Time between SIGTERM and SIGKILL.
        public var killGrace: Duration
        /// The server's environment, where passed-through variables come from.
        public var serverEnvironment: [String: String]

        public init(
            maxStdoutBytes: Int = 1 << 20, maxStderrBytes: Int = 4096, killGrace: Duration = .seconds(5),
            serverEnvironment: [String: String] = ProcessInfo.processInfo.environment
        ) {
            self.maxStdoutBytes = maxStdoutBytes
            self.maxStderrBytes = maxStderrBytes
            self.killGrace = killGrace
            self.serverEnvironment = serverEnvironment
        }
    }

    /// Server variables every program gets, when they are set on the server.
    public static let baseVariables = ["PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR"]

    let configuration: Configuration

    public init(configuration: Configuration = .init()) {
        self.configuration = configuration
        // A program that exits without reading stdin must not take the service down.
        signal(SIGPIPE, SIG_IGN)
    }

    /// The environment of a program of `jobType`: the base variables, then the job type's.
    public func environment(for variables: [EnvironmentVariable]) -> [String: String] {
        var environment: [String: String] = [:]
        for name in Self.baseVariables {
            if let value = configuration.serverEnvironment[name] { environment[name] = value }
        }
        for variable in variables {
            switch variable.value {
            case .passThrough: environment[variable.name] = configuration.serverEnvironment[variable.name]
            case .set(let value): environment[variable.name] = value
            }
        }
        return environment
    }

    public func run(_ task: ClaimedTask) async -> TaskOutcome {
        guard case .command(let commandLine) = task.executor, let words = ShellWords.split(commandLine),
            let program = words.first
        else {
            return .failed(error: "job type has no runnable command", retryable: false)
        }
        guard !Task.isCancelled else { return .failed(error: "interrupted", retryable: true) }
        let grace = configuration.killGrace
        var options = PlatformOptions()
        options.processGroupID = 0  // A group of its own, led by the program.
        options.teardownSequence = [.send(signal: .terminate, toProcessGroup: true, allowedDurationToNextStep: grace)]
        let environment = environment(for: task.environment)
        let subprocessConfiguration = Subprocess.Configuration(
            executable: program.contains("/") ? .path(FilePath(program)) : .name(program),
            arguments: Arguments(Array(words.dropFirst())),
            environment: .custom(
                Dictionary(uniqueKeysWithValues: environment.map { (Environment.Key(stringLiteral: $0.key), $0.value) })
            ),
            platformOptions: options)
        let document = task.document.encoded()
        let run = RunState()
        let output = CappedBuffer(limit: configuration.maxStdoutBytes, keep: .head)
        let errors = CappedBuffer(limit: configuration.maxStderrBytes, keep: .tail)
        var status: TerminationStatus?
        var launchError: (any Error)?
        await withTaskCancellationHandler {
            do {
                let result = try await Subprocess.run(
                    subprocessConfiguration, input: .inputWriter, output: .sequence, error: .sequence
                ) { execution in
                    run.started(execution.processIdentifier.value)
                    await Self.exchange(execution, document: document, output: output, errors: errors)
                }
                run.started(result.processIdentifier.value)
                status = result.terminationStatus
            } catch {
                launchError = error
            }
        } onCancel: {
            run.stop()
        }
        // Whatever the program left in its group ends with it.
        if let group = run.group {
            let stoppedAt = run.stoppedAt
            await group.terminate(
                killAt: (stoppedAt ?? ContinuousClock.now) + grace, alreadyTerminated: stoppedAt != nil)
        }
        if run.stoppedAt != nil || Task.isCancelled {
            return .failed(error: "interrupted", retryable: true)
        }
        guard let status else {
            return .failed(
                error: "could not start '\(program)': \(launchError.map(String.init(describing:)) ?? "")",
                retryable: true)
        }
        switch status {
        case .signaled(let signal):
            return .failed(error: "terminated by signal \(signal)", retryable: true)
        case .exited(let code) where code != 0:
            let text = errors.text.trimmingCharacters(in: .whitespacesAndNewlines)
            return .failed(error: text.isEmpty ? "exit status \(code)" : text, retryable: true)
        case .exited:
            break
        }
        if output.overflowed {
            return .failed(
                error: "output exceeds \(Self.describe(bytes: configuration.maxStdoutBytes))", retryable: true)
        }
        return ExecutorReply.outcome(of: output.bytes)
    }

    /// Writes the document, reads stdout and stderr to their ends. When the program exits while
    /// a process it left holds a pipe open, swift-subprocess ends the reading (after reading what
    /// the pipe held), so nothing here watches for that: a thousand programs waiting on their
    /// agents cost no CPU.
    private static func exchange(
        _ execution: Execution<CustomWriteInput, SequenceOutput, SequenceOutput>, document: Data,
        output: CappedBuffer, errors: CappedBuffer
    ) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                let writer = execution.standardInputWriter
                _ = try? await writer.write(Array(document))
                try? await writer.finish()
            }
            group.addTask { await output.read(execution.standardOutput) }
            group.addTask { await errors.read(execution.standardError) }
        }
    }

    static func describe(bytes: Int) -> String {
        bytes % (1 << 20) == 0 ? "\(bytes >> 20) MiB" : bytes % 1024 == 0 ? "\(bytes >> 10) KiB" : "\(bytes) bytes"
    }
}

/// What the executor knows of one program run: its group, and when it was told to stop.
private final class RunState: Sendable {
    private struct State {
        var group: ProcessGroup?
        var stoppedAt: ContinuousClock.Instant?
    }
    private let state = Mutex(State())

    var group: ProcessGroup? { state.withLock { $0.group } }
    var stoppedAt: ContinuousClock.Instant? { state.withLock { $0.stoppedAt } }

    func started(_ pid: pid_t) {
        state.withLock { if $0.group == nil { $0.group = ProcessGroup(id: pid) } }
    }

    /// The task was stopped: SIGTERM to the whole group now.
    func stop() {
        let group = state.withLock { state -> ProcessGroup? in
            if state.stoppedAt == nil { state.stoppedAt = .now }
            return state.group
        }
        group?.send(SIGTERM)
    }
}

/// Collects a pipe's output up to a limit, keeping its head or its tail.
final class CappedBuffer: Sendable {
    enum Keep { case head, tail }

    private struct State {
        var data = Data()
        var overflowed = false
    }

    private let limit: Int
    private let keep: Keep
    private let state = Mutex(State())

    init(limit: Int, keep: Keep) {
        self.limit = limit
        self.keep = keep
    }

    /// Reads `sequence` to its end (or an error).
    func read(_ sequence: SubprocessOutputSequence) async {
        do {
            for try await buffer in sequence {
                buffer.withUnsafeBytes { append(Data($0)) }
            }
        } catch {}
    }

    private func append(_ chunk: Data) {
        state.withLock { state in
            switch keep {
            case .head:
                if state.data.count + chunk.count > limit { state.overflowed = true }
                if state.data.count < limit { state.data.append(chunk.prefix(limit - state.data.count)) }
            case .tail:
                state.data.append(chunk)
                if state.data.count > limit { state.data = state.data.suffix(limit) }
            }
        }
    }

    /// Whether more than the limit arrived (head buffers only).
    var overflowed: Bool { state.withLock { $0.overflowed } }
    var bytes: Data { state.withLock { $0.data } }
    var text: String { String(decoding: bytes, as: UTF8.self) }
}
