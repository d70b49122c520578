import AgentJobsCore
import Foundation
import PropertyBased
import Testing

/// The task document an agent receives (and whose bytes are signed) is written by hand; it is
/// what `JSONEncoder` with sorted keys and unescaped slashes writes for it, byte for byte.
@Suite("Task document JSON")
struct TaskDocumentJSONTests {
    typealias Random = JobJSONTests.Random

    static func encoderBytes(_ document: TaskDocument) -> String? {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(document)).map { String(decoding: $0, as: UTF8.self) }
    }

    /// A document for the last task of a random job, with random events and progress fields.
    static func document(seed: UInt64) -> TaskDocument {
        var job = JobJSONTests.job(seed: seed)
        var random = Random(state: seed ^ 0x9E37_79B9_7F4A_7C15)
        let task = JobTask(
            id: "task_" + JobJSONTests.text(&random), jobID: job.id, kind: .followUp, attempt: job.tasks.count + 1,
            status: .running, createdAt: JobJSONTests.date(&random))
        job.tasks.append(task)
        var document = TaskDocument(job: job, task: task)
        document.events = (0..<Int.random(in: 0...3, using: &random)).map { _ in
            JobEvent(
                id: "evt_" + JobJSONTests.text(&random), jobID: job.id, type: JobJSONTests.text(&random),
                data: JobJSONTests.value(&random, depth: 0), createdAt: JobJSONTests.date(&random),
                deliveredToTaskID: JobJSONTests.optional(&random) { _ in task.id })
        }
        document.progressURL = JobJSONTests.optional(&random, JobJSONTests.text)
        document.progressToken = JobJSONTests.optional(&random, JobJSONTests.text)
        return document
    }

    @Test("any document: the same bytes as JSONEncoder's")
    func sameBytesAsJSONEncoder() async {
        await propertyCheck(count: 2000, input: Gen.uint64(in: 0...UInt64.max)) { seed in
            let document = Self.document(seed: seed)
            let written = String(decoding: document.encoded(), as: UTF8.self)
            #expect(written == Self.encoderBytes(document), "seed \(seed)")
        }
    }

    @Test("a document with earlier tasks, events and progress fields has each of them")
    func everyPartIsWritten() throws {
        var seed: UInt64 = 1
        var document = Self.document(seed: seed)
        while document.previousTasks.isEmpty || document.events.isEmpty || document.progressToken == nil {
            seed += 1
            document = Self.document(seed: seed)
        }
        let object = try #require(try JSONSerialization.jsonObject(with: document.encoded()) as? [String: Any])
        let previous = try #require(object["previous_tasks"] as? [[String: Any]])
        let events = try #require(object["events"] as? [[String: Any]])
        #expect(previous.count == document.previousTasks.count)
        #expect(events.count == document.events.count)
        #expect(object["progress_token"] as? String == document.progressToken)
        #expect(object["task_id"] as? String == document.taskID)
    }
}
