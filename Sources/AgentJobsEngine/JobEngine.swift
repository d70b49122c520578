import AgentJobsCore
import Foundation
import Logging
import ServiceLifecycle

/// What the engine reports to an observer (tests, instrumentation).
public enum EngineEvent: Sendable {
    /// A task was claimed and its executor is starting.
    case started(ClaimedTask)
    /// A task's end was recorded (by this worker, the lease rescue or the deadline sweep).
    case finished(FinishedTask)
    /// A task left this worker (after its outcome was recorded or discarded).
    case left(taskID: String, jobID: String)
    /// Due schedules created these jobs.
    case scheduled([Job])
    /// The retention purge deleted this many finished jobs (one batch).
    case purged(Int)
}

/// The scheduler and workers as one swift-service-lifecycle `Service`, built from small
/// services that run as children of one task group:
///
/// - `Scheduler`: the timer on the earliest due instant, and claims;
/// - `TaskRunner`: runs each claimed task, enforces its deadline, records its outcome;
/// - `LeaseKeeper`: renews the leases of the tasks in flight;
/// - `NotificationListener`: other nodes' due work and cancels;
/// - `MaintenanceSweeps`: lease rescue, deadlines and the retention purge, on one node at a time.
///
/// On graceful shutdown the scheduler stops claiming, the runner drains its tasks for
/// `drainTimeout` and hands back the rest, and then the other services stop.
public final class JobEngine: Service, Sendable {
    private let configuration: EngineConfiguration
    private let logger: Logger
    private let clock: any WallClock
    private let inFlight = InFlightTasks()
    private let scheduler: Scheduler
    private let runner: TaskRunner
    private let leaseKeeper: LeaseKeeper
    private let listener: NotificationListener
    private let sweeps: MaintenanceSweeps

    public init(
        queue: any TaskQueue,
        executors: ExecutorRegistry,
        clock: any WallClock = SystemWallClock(),
        configuration: EngineConfiguration = .init(),
        logger: Logger,
        observer: @escaping @Sendable (EngineEvent) -> Void = { _ in }
    ) {
        self.configuration = configuration
        self.logger = logger
        self.clock = clock
        let inFlight = self.inFlight
        let metrics = EngineMetrics()
        // The scheduler looks again whenever a task leaves (a slot is free, a retry may be due)
        // or a sweep ended tasks.
        let schedulerWake = AsyncSignal()
        let known = KnownWakeTimes()
        let runner = TaskRunner(
            queue: queue, executors: executors, clock: clock, configuration: configuration, logger: logger,
            metrics: metrics, inFlight: inFlight,
            observer: { event in
                observer(event)
                switch event {
                case .finished(let finished): if let next = finished.nextRunAt { known.noteDue(next) }
                case .left: schedulerWake.signal()
                default: break
                }
            })
        let sweeps = MaintenanceSweeps(
            queue: queue, clock: clock, configuration: configuration, logger: logger,
            onEnded: { ended, why in
                for finished in ended {
                    inFlight.interrupt(taskID: finished.taskID, because: .taskEnded)
                    logger.info("\(why)", metadata: finished.logMetadata)
                    observer(.finished(finished))
                }
                if !ended.isEmpty {
                    known.drop()
                    schedulerWake.signal()
                }
            },
            onPurged: { count in
                metrics.jobsPurged.increment(by: Int64(count))
                observer(.purged(count))
            })
        let scheduler = Scheduler(
            queue: queue, clock: clock, configuration: configuration, logger: logger, inFlight: inFlight,
            runner: runner, wakeSignal: schedulerWake, known: known, onClaimed: { sweeps.noteDeadline($0) },
            onScheduled: { observer(.scheduled($0)) })
        self.runner = runner
        self.sweeps = sweeps
        self.scheduler = scheduler
        leaseKeeper = LeaseKeeper(
            queue: queue, clock: clock, configuration: configuration, logger: logger, inFlight: inFlight)
        listener = NotificationListener(
            queue: queue, logger: logger,
            onDue: { dueAt in
                // A due instant is merged into the known wake times; without one, they are read again.
                if let dueAt { scheduler.wake(dueAt: dueAt) } else { scheduler.wake() }
            },
            onCancel: { jobID in inFlight.jobCanceled(jobID, at: clock.now()) })
    }

    /// Something changed: look again now.
    public func wake() {
        scheduler.wake()
    }

    /// A job was created or rescheduled to run at `dueAt`: wake the scheduler only if that is
    /// earlier than the instant it already plans to wake at.
    public func wake(dueAt: Date) {
        scheduler.wake(dueAt: dueAt)
    }

    /// A schedule was created or changed and next fires at `nextRunAt` (`nil`: paused).
    public func scheduleChanged(nextRunAt: Date?) {
        if let nextRunAt { scheduler.wake(scheduleDueAt: nextRunAt) }
    }

    /// A job was canceled: interrupt its task if it runs here (or registers in a moment).
    public func jobCanceled(_ jobID: String) {
        inFlight.jobCanceled(jobID, at: clock.now())
        scheduler.wake()
    }

    public func run() async throws {
        logger.info(
            "engine started",
            metadata: ["worker": "\(configuration.workerID)", "concurrency": "\(configuration.concurrency)"])
        await withDiscardingTaskGroup { group in
            group.addTask { await self.leaseKeeper.run() }
            group.addTask { await self.listener.run() }
            group.addTask { await self.sweeps.run() }
            await withGracefulShutdownHandler {
                await withDiscardingTaskGroup { work in
                    work.addTask {
                        await self.scheduler.run()
                        self.runner.stopIntake()
                    }
                    work.addTask { await self.runner.run() }
                }
            } onGracefulShutdown: {
                self.scheduler.stop()
            }
            // The runner is done: nothing in flight needs a lease, a listener or the sweeps.
            group.cancelAll()
        }
        logger.info("engine stopped", metadata: ["worker": "\(configuration.workerID)"])
    }
}
