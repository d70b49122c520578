import Dispatch

// The process's main thread waits while the command runs on the concurrency pool. An `async`
// main would end that thread in `dispatch_main`, which valgrind cannot follow (it stops with
// an internal SIGSEGV), and `bench/callgrind.py` profiles `serve` under callgrind: instruction
// counts are the one measure that repeats on a shared machine. Nothing runs on the main actor.
let commandFinished = DispatchSemaphore(value: 0)
Task.detached {
    await AgentJobsCommand.main()
    commandFinished.signal()
}
commandFinished.wait()
