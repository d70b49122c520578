import AgentJobsCore
import Metrics
import Prometheus

/// Prometheus metrics for the process: swift-metrics backed by a collector registry that
/// `/metrics` renders, with job counts by status refreshed at every scrape.
struct Telemetry: Sendable {
    let registry: PrometheusCollectorRegistry
    let jobsCreated = Counter(label: "agent_jobs_jobs_created_total")

    /// Bootstraps swift-metrics once per process.
    static func bootstrap() -> PrometheusCollectorRegistry {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        let fine: [Duration] = [
            .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
            .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
            .seconds(5), .seconds(30),
        ]
        factory.durationHistogramBuckets["agent_jobs_due_to_start_lag_seconds"] = fine
        factory.durationHistogramBuckets["agent_jobs_task_duration_seconds"] = fine + [.seconds(60), .seconds(300)]
        MetricsSystem.bootstrap(factory)
        return registry
    }

    /// The Prometheus text, after refreshing `agent_jobs_jobs{status=…}` from the store.
    func render(queue: any TaskQueue) async -> String {
        if let counts = try? await queue.jobCountsByStatus() {
            for status in JobStatus.allCases {
                Gauge(label: "agent_jobs_jobs", dimensions: [("status", status.rawValue)])
                    .record(counts[status] ?? 0)
            }
        }
        return registry.emitToString()
    }
}
