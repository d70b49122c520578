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

    func log(
        level: Logger.Level, message: Logger.Message, metadata explicit: Logger.Metadata?, source: String,
        file: String, function: String, line: UInt
    ) {
        let merged = metadata.merging(explicit ?? [:]) { $1 }
        let fields = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let text =
            "\(Timestamp.format(Date())) \(level) \(label):\(fields.isEmpty ? "" : " " + fields) [\(source)] \(message)\n"
        FileHandle.standardError.write(Data(text.utf8))
    }
}
