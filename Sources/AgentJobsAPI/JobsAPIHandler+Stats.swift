import AgentJobsCore
import Foundation
import OpenAPIRuntime

/// `GET /services/agent-jobs/stats`: the org's figures that the dashboard's overview shows.
extension JobsAPIHandler {
    func getJobStats(_ input: Operations.GetJobStats.Input) async throws -> Operations.GetJobStats.Output {
        let principal = try RequestPrincipal.require()
        let stats = try await store.statistics(orgID: principal.orgID, now: clock.now())
        let count = { (status: JobStatus) in Int64(stats.counts[status] ?? 0) }
        let data = Components.Schemas.JobStats(
            generatedAt: stats.generatedAt, since: stats.since,
            counts: .init(
                waiting: count(.waiting), scheduled: count(.scheduled), running: count(.running),
                completed: count(.completed), failed: count(.failed), canceled: count(.canceled)),
            perMinute: stats.minutes.map {
                .init(minute: $0.minute, created: Int64($0.created), finished: Int64($0.finished))
            },
            dueToStartMs: Self.summary(stats.dueToStart), taskDurationMs: Self.summary(stats.taskDuration))
        let access = Access.allCases.filter { principal.token.allows($0) }.compactMap {
            Components.Schemas.JobStatsEnvelope.MetaPayload.AccessPayloadPayload(rawValue: $0.rawValue)
        }
        return .ok(.init(body: .json(.init(data: data, meta: .init(orgId: principal.orgID, access: access)))))
    }

    private static func summary(_ summary: DurationSummary) -> Components.Schemas.DurationSummary {
        .init(
            samples: Int64(summary.samples), p50: APIModelConversion.nullable(summary.p50),
            p90: APIModelConversion.nullable(summary.p90), p99: APIModelConversion.nullable(summary.p99),
            max: APIModelConversion.nullable(summary.max))
    }
}
