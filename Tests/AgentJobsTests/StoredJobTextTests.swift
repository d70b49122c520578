import AgentJobsCore
import Foundation
import PropertyBased
import Testing

/// The stores' JSON columns (`StoredJobText`, written by `JSONWriter`) are the text that
/// `JSONEncoder` with sorted keys and unescaped slashes wrote for them before, byte for byte.
@Suite("Stored job JSON")
struct StoredJobTextTests {
    static func encoded(_ value: some Encodable) -> String? {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) }
    }

    @Test("any job: its channel, config and params are JSONEncoder's text")
    func sameTextAsJSONEncoder() async {
        await propertyCheck(count: 2000, input: Gen.uint64(in: 0...UInt64.max)) { seed in
            let job = JobJSONTests.job(seed: seed)
            let new = NewJob(
                id: job.id, orgID: job.orgID, jobTypeID: job.jobTypeID, targetChannel: job.targetChannel,
                status: job.status, config: job.config, params: job.params, createdAt: job.createdAt,
                scheduledAt: job.scheduledAt)
            let text = StoredJobText(new)
            #expect(text.channel == Self.encoded(job.targetChannel), "seed \(seed)")
            #expect(text.config == Self.encoded(job.config), "seed \(seed)")
            #expect(text.params == Self.encoded(job.params), "seed \(seed)")
            // And it reads back as the same values.
            #expect((try? JSONObject.parse(text.params)) == job.params, "seed \(seed)")
        }
    }
}
