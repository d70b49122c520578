import AgentJobsCore
import AgentJobsEngine
import Crypto
import Foundation
import Hummingbird
import NIOCore
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Running jobs end to end (CONTRACT §4)", .serialized)
struct EngineEndToEndTests {
    func create(_ api: APIClient, _ env: TestEnvironment, _ body: String, query: String = "") async throws -> String {
        let reply = try await api.create(body, token: env.writeA, query: query)
        guard reply.status == 201, let id = reply.json["data"]["job_id"].string else {
            throw TimedOut(description: "create failed: \(reply.status) \(reply.json)")
        }
        return id
    }

    @Test("the demo executor completes a job through the API", arguments: StoreKind.available)
    func demo(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind, start: Date())
        try await EngineHarness.run(env: env) { harness, api in
            let id = try await create(
                api, env, jobBody(extra: #""config": {"start_prompt": "Say hi"}, "params": {"team": "blue"}"#))
            let job = try await harness.waitForTerminal(id)
            #expect(job.status == .completed)
            #expect(job.result?.contains("Say hi") == true)
            #expect(job.result?.contains("blue") == true)
            #expect(job.tasks.count == 1)
            #expect(job.tasks.first?.kind == .initial)
            #expect(job.tasks.first?.attempt == 1)
            #expect(job.tasks.first?.status == .completed)
            #expect(job.startedAt != nil && job.finishedAt != nil)

            let reply = try await api.request(.get, "/services/agent-jobs/\(id)", token: env.readA)
            #expect(reply.json["data"]["job_status"].string == "COMPLETED")
            #expect(reply.json["data"]["tasks"][0]["status"].string == "COMPLETED")
            #expect(reply.json["data"]["tasks"][0]["kind"].string == "initial")
            #expect(reply.json["data"]["tasks"][0]["started_at"].string != nil)
            #expect(reply.json["data"]["tasks"][0]["error"].isNull)
        }
    }

    @Test("a command gets the task document on stdin; plain stdout completes the job", arguments: StoreKind.available)
    func commandDocument(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind, start: Date())
        let scripts = try Scripts(in: env.directory)
        let capture = scripts.path("document.json")
        let script = try scripts.write("plain", "cat > '\(capture)'\necho '  all done  '")
        try await env.commandType("plain", script)
        try await EngineHarness.run(env: env) { harness, api in
            let id = try await create(
                api, env, jobBody(jobType: "plain", extra: #""params": {"k": [1, 2]}, "config": {"profile_id": "p1"}"#))
            let job = try await harness.waitForTerminal(id)
            #expect(job.status == .completed)
            #expect(job.result == "all done")
            let document = JSONTree(
                try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: capture))))
            #expect(document["job_id"].string == id)
            #expect(document["task_id"].string == job.tasks.first?.id)
            #expect(document["kind"].string == "initial")
            #expect(document["attempt"].int == 1)
            #expect(document["org_id"].string == TestEnvironment.orgA)
            #expect(document["job_type_id"].string == "plain")
            #expect(document["target_channel"]["code"].string == "C123")
            #expect(document["config"]["profile_id"].string == "p1")
            #expect(document["params"]["k"][1].int == 2)
            #expect(document["previous_tasks"].array.isEmpty)
        }
    }

    @Test("follow_up replies run follow-up tasks that see the earlier ones", arguments: StoreKind.available)
    func followUps(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind, start: Date())
        let scripts = try Scripts(in: env.directory)
        let script = try scripts.write(
            "chatty",
            """
            doc=$(cat)
            case "$doc" in
              *'"previous_tasks":[]'*) echo '{"status": "follow_up", "result": "asked", "after_minutes": 0}' ;;
              *) echo '{"status": "completed", "result": "answered"}' ;;
            esac
            """)
        try await env.commandType("chatty", script)
        try await EngineHarness.run(env: env) { harness, api in
            let id = try await create(api, env, jobBody(jobType: "chatty", extra: #""config": {"max_follow_ups": 2}"#))
            let job = try await harness.waitForTerminal(id)
            #expect(job.status == .completed)
            #expect(job.result == "answered")
            #expect(job.tasks.map(\.kind) == [.initial, .followUp])
            #expect(job.tasks.map(\.attempt) == [1, 2])
            #expect(job.tasks.first?.result == "asked")

            let exhausted = try await create(api, env, jobBody(jobType: "chatty"))
            let failed = try await harness.waitForTerminal(exhausted)
            #expect(failed.status == .failed)
            #expect(failed.result == "max_follow_ups exceeded")
        }
    }

    @Test(
        "a failing program is retried after task_retry_interval, then the job fails with its stderr",
        arguments: StoreKind.available)
    func retries(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind, start: Date())
        let scripts = try Scripts(in: env.directory)
        try await env.commandType(
            "failing", try scripts.write("failing", "echo 'partial output'\necho 'disk on fire' >&2\nexit 3"))
        try await env.commandType(
            "fatal",
            try scripts.write("fatal", #"echo '{"status": "failed", "error": "bad input", "retryable": false}'"#))
        try await EngineHarness.run(env: env) { harness, api in
            let id = try await create(
                api, env,
                jobBody(jobType: "failing", extra: #""config": {"max_task_retries": 2, "task_retry_interval": 0.002}"#))
            let job = try await harness.waitForTerminal(id)
            #expect(job.status == .failed)
            #expect(job.result == "disk on fire")
            #expect(job.tasks.map(\.kind) == [.initial, .retry, .retry])
            #expect(job.tasks.allSatisfy { $0.status == .failed && $0.error == "disk on fire" })
            let gaps = zip(job.tasks, job.tasks.dropFirst()).map { $1.startedAt!.timeIntervalSince($0.finishedAt!) }
            #expect(gaps.allSatisfy { $0 >= 0.11 }, "retries wait task_retry_interval (0.12 s): \(gaps)")

            let fatal = try await create(
                api, env, jobBody(jobType: "fatal", extra: #""config": {"max_task_retries": 5}"#))
            let fatalJob = try await harness.waitForTerminal(fatal)
            #expect(fatalJob.status == .failed)
            #expect(fatalJob.result == "bad input")
            #expect(fatalJob.tasks.count == 1)
        }
    }

    @Test("cancel while running terminates the program and no task starts afterwards", arguments: StoreKind.available)
    func cancelRunning(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind, start: Date())
        let scripts = try Scripts(in: env.directory)
        let pidFile = scripts.path("pid")
        try await env.commandType("slow", try scripts.write("slow", "echo $$ > '\(pidFile)'\nexec sleep 30"))
        try await EngineHarness.run(env: env) { harness, api in
            let id = try await create(api, env, jobBody(jobType: "slow", extra: #""config": {"max_task_retries": 3}"#))
            try await harness.waitForEvent { if case .started(let task) = $0 { task.job.id == id } else { false } }
            // The program runs once it has written its pid (a loaded machine may take a while).
            let pid = try await AgentBoundaryTests.readPID(pidFile)
            let reply = try await api.request(
                .delete, "/services/agent-jobs/\(id)", token: env.writeA, body: #"{"reason": "changed my mind"}"#)
            #expect(reply.status == 200)
            try await harness.waitForEvent { if case .left(_, let jobID) = $0 { jobID == id } else { false } }
            let job = try #require(try await env.store.job(id: id))
            #expect(job.status == .canceled)
            #expect(job.cancelReason == "changed my mind")
            #expect(job.tasks.count == 1)
            #expect(job.tasks.first?.status == .canceled)
            #expect(kill(pid, 0) == -1, "the program was terminated")
        }
    }

    @Test("cancel while an http agent holds the task closes the call at once (no task of its own watches for it)")
    func cancelRunningHTTP() async throws {
        let env = try await TestEnvironment.make(.sqlite, start: Date())
        let arrived = AsyncSignal()
        let release = AsyncSignal()
        let router = Router()
        router.post("/hold") { _, _ in
            arrived.signal()
            _ = await release.waitUntilFired(timeout: .seconds(60))
            return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: #"{"status": "completed"}"#)))
        }
        let stub = try await StubAgent(router)
        defer {
            release.signal()
            stub.stop()
        }
        try await env.store.createJobType(
            JobType(
                id: "holding", orgID: nil, executor: .http(url: "http://127.0.0.1:\(stub.port)/hold", secret: nil),
                defaultConfig: .init(), createdAt: env.clock.now()))
        try await EngineHarness.run(env: env) { harness, api in
            let id = try await create(api, env, jobBody(jobType: "holding"))
            _ = await arrived.waitUntilFired(timeout: .seconds(30))
            #expect(arrived.hasFired, "the agent has the document")
            let canceled = ContinuousClock.now
            let reply = try await api.request(.delete, "/services/agent-jobs/\(id)", token: env.writeA)
            #expect(reply.status == 200)
            try await harness.waitForEvent(timeout: .seconds(20)) {
                if case .left(_, let jobID) = $0 { jobID == id } else { false }
            }
            #expect(ContinuousClock.now - canceled < .seconds(15), "the task left without waiting for the agent")
            #expect(!release.hasFired)
            let job = try #require(try await env.store.job(id: id))
            #expect(job.status == .canceled)
            #expect(job.tasks.map(\.status) == [.canceled])
        }
    }

    @Test("past max_time_to_complete the program is interrupted and the job fails", arguments: StoreKind.available)
    func deadline(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind, start: Date())
        let scripts = try Scripts(in: env.directory)
        try await env.commandType("stuck", try scripts.write("stuck", "exec sleep 30"))
        try await EngineHarness.run(env: env) { harness, api in
            let id = try await create(
                api, env,
                jobBody(jobType: "stuck", extra: #""config": {"max_time_to_complete": 0.01, "max_task_retries": 3}"#))
            let job = try await harness.waitForTerminal(id, timeout: .seconds(20))
            #expect(job.status == .failed)
            #expect(job.result == "max_time_to_complete exceeded")
            #expect(job.tasks.count == 1)
            #expect(job.tasks.first?.status == .failed)
            #expect(job.tasks.first?.error == "max_time_to_complete exceeded")
            let elapsed = job.finishedAt!.timeIntervalSince(job.startedAt!)
            #expect(elapsed >= 0.59 && elapsed < 10, "ended at the deadline (0.6 s), took \(elapsed)")
        }
    }

    @Test(
        "the http executor signs the document, sends Idempotency-Key, and takes the reply",
        arguments: StoreKind.available)
    func httpAgent(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind, start: Date())
        let secret = "topsecret"
        let received = Mutex<[(signature: String?, key: String?, body: Data)]>([])
        let router = Router()
        router.post("/agent") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 20)
            let data = Data(body.readableBytesView)
            received.withLock {
                $0.append(
                    (
                        request.headers[.init("X-Agent-Jobs-Signature")!], request.headers[.init("Idempotency-Key")!],
                        data
                    ))
            }
            let document = JSONTree(try? JSONSerialization.jsonObject(with: data))
            let reply =
                document["attempt"].int == 1
                ? #"{"status": "failed", "error": "try again"}"# : #"{"status": "completed", "result": "posted"}"#
            return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: reply)))
        }
        router.post("/broken") { _, _ in Response(status: .internalServerError) }
        let port = Mutex<Int?>(nil)
        let (portStream, portContinuation) = AsyncStream<Int>.makeStream()
        let stub = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in
                port.withLock { $0 = channel.localAddress?.port }
                portContinuation.yield(channel.localAddress?.port ?? 0)
            })
        let server = Task { try await stub.runService() }
        defer { server.cancel() }
        var ports = portStream.makeAsyncIterator()
        let agentPort = try #require(await ports.next())
        try await env.store.createJobType(
            JobType(
                id: "agent", orgID: nil, executor: .http(url: "http://127.0.0.1:\(agentPort)/agent", secret: secret),
                defaultConfig: .init(maxTaskRetries: 1, taskRetryInterval: 0), createdAt: env.clock.now()))
        try await env.store.createJobType(
            JobType(
                id: "broken", orgID: nil, executor: .http(url: "http://127.0.0.1:\(agentPort)/broken", secret: nil),
                defaultConfig: .init(), createdAt: env.clock.now()))
        try await EngineHarness.run(env: env) { harness, api in
            let id = try await create(api, env, jobBody(jobType: "agent"))
            let job = try await harness.waitForTerminal(id)
            #expect(job.status == .completed)
            #expect(job.result == "posted")
            #expect(job.tasks.map(\.status) == [.failed, .completed])
            #expect(job.tasks.first?.error == "try again")
            let requests = received.withLock { $0 }
            #expect(requests.count == 2)
            for (index, request) in requests.enumerated() {
                let expected = HMAC<SHA256>.authenticationCode(
                    for: request.body, using: SymmetricKey(data: Data(secret.utf8)))
                #expect(request.signature == "sha256=" + TokenSecret.hex(Array(expected)), "HMAC verified by the stub")
                #expect(request.key == job.tasks[index].id)
            }

            let broken = try await create(api, env, jobBody(jobType: "broken"))
            let brokenJob = try await harness.waitForTerminal(broken)
            #expect(brokenJob.status == .failed)
            #expect(brokenJob.result?.contains("500") == true)
        }
    }

    @Test(
        "on shutdown an unfinished task is handed back and runs again on the next start", arguments: StoreKind.available
    )
    func handBackOnShutdown(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind, start: Date())
        let scripts = try Scripts(in: env.directory)
        let marker = scripts.path("marker")
        try await env.commandType(
            "resumable",
            try scripts.write(
                "resumable",
                """
                if [ -f '\(marker)' ]; then echo 'finished on second run'; exit 0; fi
                touch '\(marker)'
                exec sleep 30
                """))
        let quickDrain = EngineConfiguration(
            concurrency: 4, leaseDuration: .seconds(15), heartbeatInterval: .seconds(5),
            drainTimeout: .milliseconds(200))
        let created = Mutex("")
        try await EngineHarness.run(env: env, configuration: quickDrain) { harness, api in
            let id = try await create(api, env, jobBody(jobType: "resumable"))
            created.withLock { $0 = id }
            try await harness.waitForEvent { if case .started(let task) = $0 { task.job.id == id } else { false } }
        }
        let jobID = created.withLock { $0 }
        let handedBack = try #require(try await env.store.job(id: jobID))
        #expect(handedBack.status == .running)
        #expect(handedBack.tasks.count == 1)
        #expect(handedBack.tasks.first?.status == .failed)
        #expect(handedBack.tasks.first?.error == JobStateMachine.handedBack)
        let id = jobID
        try await EngineHarness.run(env: env, configuration: quickDrain) { harness, _ in
            let job = try await harness.waitForTerminal(id)
            #expect(job.status == .completed)
            #expect(job.result == "finished on second run")
            #expect(job.tasks.map(\.attempt) == [1, 2])
        }
    }

    @Test("a job scheduled centuries ago runs (the lag metric does not overflow)", arguments: StoreKind.available)
    func ancientSchedule(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind, start: Date())
        try await EngineHarness.run(env: env) { harness, api in
            let id = try await create(
                api, env,
                jobBody(
                    extra: #""scheduled_at": "0040-02-20T08:37:37.5-23:08", "params": {"demo": {"sleep_ms": 1e300}}"#))
            let started = try await harness.waitForJob(id) { $0.status == .running }
            #expect(started.scheduledAt < Date(timeIntervalSince1970: -60_000_000_000))
            let reply = try await api.request(.delete, "/services/agent-jobs/\(id)", token: env.writeA)
            #expect(reply.status == 200, "the demo's sleep was clamped, not crashed; the job can be canceled")
        }
    }

    @Test(
        "a chatty program cannot exhaust memory: stdout past 1 MiB fails the task, the error keeps stderr's last 4 KiB")
    func chattyProgram() async throws {
        let env = try await TestEnvironment.make(start: Date())
        let scripts = try Scripts(in: env.directory)
        try await env.commandType(
            "chatty-big", try scripts.write("chatty-big", "head -c 3000000 /dev/zero | tr '\\0' 'a'"))
        try await env.commandType(
            "chatty-fail",
            try scripts.write(
                "chatty-fail",
                """
                head -c 200000 /dev/zero | tr '\\0' 'b' >&2
                printf 'THE END' >&2
                exit 1
                """))
        try await EngineHarness.run(env: env) { harness, api in
            let big = try await harness.waitForTerminal(try await create(api, env, jobBody(jobType: "chatty-big")))
            #expect(big.status == .failed)
            #expect(big.result == "output exceeds 1 MiB", "not completed with a cut text")
            let failed = try await harness.waitForTerminal(try await create(api, env, jobBody(jobType: "chatty-fail")))
            #expect(failed.status == .failed)
            #expect(failed.result?.utf8.count == 4096)
            #expect(
                failed.result?.hasSuffix("THE END") == true, "tail: \(String(describing: failed.result?.suffix(60)))")
        }
    }

    @Test("an unreachable agent fails the task and the retry rules apply")
    func unreachableAgent() async throws {
        let env = try await TestEnvironment.make(start: Date())
        let port = try freePort()
        try await env.store.createJobType(
            JobType(
                id: "gone", orgID: nil, executor: .http(url: "http://127.0.0.1:\(port)/agent", secret: nil),
                defaultConfig: .init(maxTaskRetries: 1, taskRetryInterval: 0), createdAt: env.clock.now()))
        try await EngineHarness.run(env: env) { harness, api in
            let job = try await harness.waitForTerminal(try await create(api, env, jobBody(jobType: "gone")))
            #expect(job.status == .failed)
            #expect(job.tasks.count == 2)
            #expect(job.result?.hasPrefix("agent request failed") == true)
        }
    }

    @Test("a program that ignores SIGTERM is killed after the grace period when its job is canceled")
    func stubbornProgram() async throws {
        let env = try await TestEnvironment.make(start: Date())
        let scripts = try Scripts(in: env.directory)
        let pidFile = scripts.path("stubborn.pid")
        try await env.commandType(
            "stubborn",
            try scripts.write(
                "stubborn",
                """
                trap '' TERM
                echo $$ > '\(pidFile)'
                while true; do sleep 0.05; done
                """))
        try await EngineHarness.run(env: env) { harness, api in
            let id = try await create(api, env, jobBody(jobType: "stubborn"))
            try await harness.waitForEvent { if case .started(let task) = $0 { task.job.id == id } else { false } }
            for _ in 0..<200 where !FileManager.default.fileExists(atPath: pidFile) {
                try await Task.sleep(for: .milliseconds(10))
            }
            let canceledAt = ContinuousClock.now
            #expect(try await api.request(.delete, "/services/agent-jobs/\(id)", token: env.writeA).status == 200)
            try await harness.waitForEvent { if case .left(_, let jobID) = $0 { jobID == id } else { false } }
            let took = ContinuousClock.now - canceledAt
            #expect(took >= .milliseconds(900), "SIGTERM was ignored, so it took the 1 s grace: \(took)")
            let pid = try #require(
                Int32(String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
            #expect(kill(pid, 0) == -1, "SIGKILL ended it")
            #expect(try await env.store.job(id: id)?.status == .canceled)
        }
    }

    @Test(
        "an org with a backlog cannot delay another org's single job by more than one slot turn",
        arguments: StoreKind.available)
    func fairAcrossOrgs(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind, start: Date())
        let oneSlot = EngineConfiguration(
            concurrency: 1, leaseDuration: .seconds(15), heartbeatInterval: .seconds(5), drainTimeout: .seconds(5))
        try await EngineHarness.run(env: env, configuration: oneSlot) { harness, api in
            var backlog: [String] = []
            for _ in 0..<40 {
                backlog.append(try await create(api, env, jobBody(extra: #""params": {"demo": {"sleep_ms": 20}}"#)))
            }
            let backlogIDs = backlog
            try await harness.waitForEvent {
                if case .started(let task) = $0 { backlogIDs.contains(task.job.id) } else { false }
            }
            func startedOrgs() -> [String] {
                harness.events.events.compactMap { event -> String? in
                    if case .started(let task) = event { return task.job.orgID }
                    return nil
                }
            }
            let startedBefore = startedOrgs().count
            let single = try await api.create(jobBody(org: TestEnvironment.orgB), token: env.writeB)
            let singleID = try #require(single.json["data"]["job_id"].string)
            _ = try await harness.waitForTerminal(singleID)
            let starts = startedOrgs()
            let position = try #require(starts.firstIndex(of: TestEnvironment.orgB))
            // When B's job arrives, one A task holds the slot; B takes the next turn (one more
            // A task may have been claimed while B's create was committing).
            #expect(
                position <= startedBefore + 1, "org B waited behind \(position - startedBefore) more tasks of org A")
            #expect(startedBefore < backlogIDs.count, "org A still had a backlog when B's job arrived")
        }
    }
}

extension EngineEndToEndTests {
    @Test(
        "the README's example agent, as shipped in examples/agents, asks then reports", arguments: StoreKind.available)
    func exampleAgent(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind, start: Date())
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let agent = root.appendingPathComponent("examples/agents/ask-then-report.sh").path
        try await env.store.createJobType(
            JobType(
                id: "ask-then-report", orgID: nil, executor: .command(agent),
                defaultConfig: .init(maxFollowUps: 1),
                environment: [EnvironmentVariable(name: "ASK_AFTER_MINUTES", value: .set("0.005"))],
                createdAt: env.clock.now()))
        try await EngineHarness.run(env: env) { harness, api in
            let id = try await create(api, env, jobBody(jobType: "ask-then-report"))
            let job = try await harness.waitForTerminal(id)
            #expect(job.status == .completed)
            #expect(job.result == "report posted")
            #expect(job.tasks.map(\.kind) == [.initial, .followUp])
            #expect(job.tasks.first?.result == "asked the channel")
        }
    }
}
