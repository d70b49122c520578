import AgentJobsCore
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Runs a job type's program: the task document on stdin; exit 0 with a JSON reply on stdout
/// is that reply, exit 0 with other output completes with it (trimmed), a non-zero exit fails
/// with stderr (trimmed, last 4 KiB). On cancellation: SIGTERM, then SIGKILL after the grace.
public struct CommandExecutor: TaskExecutor {
    /// Limits for one program run.
    public struct Configuration: Sendable {
        /// stdout beyond this is dropped (the reply must fit).
        public var maxStdoutBytes: Int
        /// The last this-many bytes of stderr are kept.
        public var maxStderrBytes: Int
        /// Time between SIGTERM and SIGKILL.
        public var killGrace: Duration

        public init(maxStdoutBytes: Int = 1 << 20, maxStderrBytes: Int = 4096, killGrace: Duration = .seconds(5)) {
            self.maxStdoutBytes = maxStdoutBytes
            self.maxStderrBytes = maxStderrBytes
            self.killGrace = killGrace
        }
    }

    let configuration: Configuration

    public init(configuration: Configuration = .init()) {
        self.configuration = configuration
        // A program that exits without reading stdin must not take the service down.
        signal(SIGPIPE, SIG_IGN)
    }

    public func run(_ task: ClaimedTask) async -> TaskOutcome {
        guard case .command(let commandLine) = task.executor, let words = ShellWords.split(commandLine),
            !words.isEmpty
        else {
            return .failed(error: "job type has no runnable command", retryable: false)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = words
        let stdin = Pipe()
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        let output = CappedBuffer(limit: configuration.maxStdoutBytes, keep: .head)
        let errors = CappedBuffer(limit: configuration.maxStderrBytes, keep: .tail)
        output.attach(stdout.fileHandleForReading)
        errors.attach(stderr.fileHandleForReading)

        let exited = AsyncSignal()
        process.terminationHandler = { _ in exited.signal() }
        do {
            try process.run()
        } catch {
            return .failed(error: "could not start '\(words[0])': \(error)", retryable: true)
        }
        let document = task.document.encoded()
        let writer = stdin.fileHandleForWriting
        Thread.detachNewThread {
            try? writer.write(contentsOf: document)
            try? writer.close()
        }
        let pid = process.processIdentifier
        let grace = configuration.killGrace
        await withTaskCancellationHandler {
            await exited.waitUntilFired()
        } onCancel: {
            kill(pid, SIGTERM)
        }
        if !exited.hasFired {
            // Cancelled: the program gets its grace, then SIGKILL; either way the task ends
            // only once the program is gone (waits that cancellation does not cut short).
            await Task {
                if await !exited.waitUntilFired(timeout: grace) { kill(pid, SIGKILL) }
                await exited.waitUntilFired()
            }.value
        }
        // Output written before exit is in the pipes and ends with EOF once it is read; the limit
        // only matters when a grandchild keeps a pipe open, and must leave a loaded machine
        // time to deliver the rest.
        await output.finish(within: .seconds(2))
        await errors.finish(within: .seconds(2))

        if Task.isCancelled {
            return .failed(error: "interrupted", retryable: true)
        }
        if process.terminationReason == .uncaughtSignal {
            return .failed(error: "terminated by signal \(process.terminationStatus)", retryable: true)
        }
        let status = process.terminationStatus
        guard status == 0 else {
            let text = errors.text.trimmingCharacters(in: .whitespacesAndNewlines)
            return .failed(error: text.isEmpty ? "exit status \(status)" : text, retryable: true)
        }
        let data = output.bytes
        if let reply = ExecutorReply.parse(data) { return reply.outcome }
        return .completed(result: String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }
}

/// Collects a pipe's output up to a limit, keeping its head or its tail.
final class CappedBuffer: Sendable {
    enum Keep { case head, tail }

    private let limit: Int
    private let keep: Keep
    private let data = Mutex(Data())
    /// Fires at end of file.
    private let closed = AsyncSignal()

    init(limit: Int, keep: Keep) {
        self.limit = limit
        self.keep = keep
    }

    /// Reads `handle` to end of file on a thread of its own (blocking reads; Foundation's
    /// `readabilityHandler` can miss the end of file on Linux). The thread holds the handle,
    /// so its descriptor stays open until the reading is done.
    func attach(_ handle: FileHandle) {
        Thread.detachNewThread { [self] in
            let descriptor = handle.fileDescriptor
            var chunk = [UInt8](repeating: 0, count: 65_536)
            while true {
                let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                if count > 0 {
                    append(Data(chunk[0..<count]))
                } else if count < 0 && errno == EINTR {
                    continue
                } else {
                    break
                }
            }
            withExtendedLifetime(handle) {}
            closed.signal()
        }
    }

    private func append(_ chunk: Data) {
        data.withLock { data in
            switch keep {
            case .head:
                if data.count < limit { data.append(chunk.prefix(limit - data.count)) }
            case .tail:
                data.append(chunk)
                if data.count > limit { data = data.suffix(limit) }
            }
        }
    }

    /// Waits for end of file, but at most `timeout`.
    func finish(within timeout: Duration) async {
        await closed.waitUntilFired(timeout: timeout)
    }

    var bytes: Data { data.withLock { $0 } }
    var text: String { String(decoding: bytes, as: UTF8.self) }
}
