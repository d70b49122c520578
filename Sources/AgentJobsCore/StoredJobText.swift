/// A new job's JSON columns as both stores keep them: `target_channel`, `config` and `params`
/// as canonical text (what `JSONEncoder` with sorted keys and unescaped slashes writes),
/// written by `JSONWriter`. Made before the insert, so the store's writer does not wait for it.
public struct StoredJobText: Sendable {
    public let channel: String
    public let config: String
    public let params: String

    public init(_ job: NewJob) {
        var channel = JSONWriter(capacity: 128)
        channel.channel(job.targetChannel)
        self.channel = channel.text
        var config = JSONWriter(capacity: 128)
        config.config(job.config)
        self.config = config.text
        params = job.params.canonicalJSON()
    }
}
