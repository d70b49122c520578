import AgentJobsCore
import Foundation
import Logging

/// The service's log lines on stderr, as swift-log's stream handler writes them but with a UTC
/// timestamp in milliseconds: `2026-11-29T16:08:41.123Z info agent-jobs: k=v [Module] message`.
/// Each line is one `write`, so lines from concurrent tasks never interleave.
struct LogLineHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata.merging(event.metadata ?? [:]) { $1 }
        if let error = event.error { merged["error"] = "\(error)" }
        let fields = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let text =
            "\(Timestamp.format(Date())) \(event.level) \(label):\(fields.isEmpty ? "" : " " + fields) [\(event.source)] \(event.message)\n"
        FileHandle.standardError.write(Data(text.utf8))
    }
}
