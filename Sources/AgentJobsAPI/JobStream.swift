import AgentJobsCore
import Foundation
import OpenAPIRuntime
import ServiceLifecycle

/// The Server-Sent Events of one job (`GET /services/agent-jobs/{id}/stream`), read from the
/// store's journal: the history after `after`, then entries as they are written, a keep-alive
/// comment after `keepAlive` of silence, and the end after the job's terminal `job` entry.
/// A server shutting down ends its streams (the client resumes with `Last-Event-ID`, on this
/// node once it is back or on another), so that open streams never hold the shutdown up.
struct JobStream: AsyncSequence, Sendable {
    typealias Element = ArraySlice<UInt8>

    let store: any JobStore
    let watcher: JobStreamWatcher
    let jobID: String
    let after: Int64
    /// The job had ended when the stream was opened: with nothing after `after`, it ends at once.
    let endedAtStart: Bool
    let keepAlive: Duration
    /// When the stream ends even if the job has not (`?timeout=`); `nil`: when the job ends.
    var endAt: ContinuousClock.Instant? = nil

    /// Entries read per store query.
    static let batchSize = 100

    func makeAsyncIterator() -> Iterator {
        Iterator(stream: self, cursor: after, watch: Watch(watcher: watcher, jobID: jobID))
    }

    /// Keeps the job watched while the iterator lives.
    final class Watch: Sendable {
        let watcher: JobStreamWatcher
        let jobID: String

        init(watcher: JobStreamWatcher, jobID: String) {
            self.watcher = watcher
            self.jobID = jobID
            watcher.watch(jobID)
        }

        deinit { watcher.unwatch(jobID) }
    }

    struct Iterator: AsyncIteratorProtocol {
        let stream: JobStream
        var cursor: Int64
        let watch: Watch
        var pending: [ArraySlice<UInt8>] = []
        var done = false
        var first = true

        mutating func next() async throws -> ArraySlice<UInt8>? {
            while true {
                if !pending.isEmpty { return pending.removeFirst() }
                if done || Task.isShuttingDownGracefully { return nil }
                if let endAt = stream.endAt, ContinuousClock.now >= endAt { return nil }
                let entries = try await stream.store.streamEntries(
                    jobID: stream.jobID, after: cursor, limit: JobStream.batchSize)
                defer { first = false }
                guard !entries.isEmpty else {
                    if first && stream.endedAtStart {
                        done = true
                        continue
                    }
                    if try await !waitForEntries(), stream.endAt.map({ ContinuousClock.now < $0 }) ?? true {
                        pending.append(ArraySlice(": keep-alive\n\n".utf8))
                    }
                    continue
                }
                let job = try await stream.store.job(id: stream.jobID)
                for entry in entries {
                    cursor = entry.id
                    guard let job, let text = JobStream.render(entry, job: job) else { continue }
                    pending.append(ArraySlice(text.utf8))
                    if entry.endsStream {
                        done = true
                        break
                    }
                }
            }
        }

        /// Waits until the job has an entry after the cursor (`true`) or `keepAlive` passes.
        private func waitForEntries() async throws -> Bool {
            let keepAlive = ContinuousClock.now + stream.keepAlive
            return try await stream.watcher.waitForEntry(
                of: stream.jobID, after: cursor, until: Swift.min(keepAlive, stream.endAt ?? keepAlive))
        }
    }

    /// One entry as an SSE message: `id:`, `event:` and the object as one line of JSON.
    static func render(_ entry: StreamEntry, job: Job) -> String? {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(Timestamp.format(date))
        }
        let data: Data?
        switch entry.kind {
        case .job(let status):
            data = try? encoder.encode(APIModelConversion.job(JobHistory.job(job, at: entry, status: status)))
        case .task(let id, let status):
            guard let task = job.tasks.first(where: { $0.id == id }) else { return nil }
            data = try? encoder.encode(APIModelConversion.task(JobHistory.task(task, status: status)))
        case .event(let event):
            data = try? encoder.encode(APIModelConversion.event(event))
        case .progress(let progress):
            data = try? encoder.encode(APIModelConversion.progress(progress))
        }
        guard let data else { return nil }
        return "id: \(entry.id)\nevent: \(entry.typeName)\ndata: \(String(decoding: data, as: UTF8.self))\n\n"
    }
}
