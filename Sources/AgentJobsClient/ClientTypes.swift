import OpenAPIRuntime

// The API's types under short names (all generated from `openapi.yaml`).

/// A job with its tasks (`GET /services/agent-jobs/{id}` also fills `events` and each task's
/// `event_ids` and `progress`).
public typealias Job = Components.Schemas.Job
/// One task (agent invocation) of a job.
public typealias JobTask = Components.Schemas.Task
/// A job's lifecycle state.
public typealias JobStatus = Components.Schemas.JobStatus
/// The body of a create: target channel, job type, optional config, params and `scheduled_at`.
public typealias NewJob = Components.Schemas.CreateJobRequest
/// Where the agent posts: org, platform, type, code and free-form data.
public typealias TargetChannel = Components.Schemas.TargetChannel
/// Config overrides of a create (omitted fields take the job type's defaults).
public typealias JobConfigInput = Components.Schemas.JobConfigInput
/// The filters, sort and page of a job list (every field optional).
public typealias JobListQuery = Operations.ListJobs.Input.Query
/// A page of jobs with `meta` (total, sort, the cursor of the next page).
public typealias JobPage = Components.Schemas.JobListEnvelope
/// A recurring job.
public typealias Schedule = Components.Schemas.Schedule
/// The body of a schedule create: cron, time zone, the job to create, jitter, overlap.
public typealias NewSchedule = Components.Schemas.CreateScheduleRequest
/// A change to a schedule (only the fields given change).
public typealias ScheduleChange = Components.Schemas.UpdateScheduleRequest
/// The filters, sort and page of a schedule list.
public typealias ScheduleListQuery = Operations.ListSchedules.Input.Query
/// A page of schedules with `meta`.
public typealias SchedulePage = Components.Schemas.ScheduleListEnvelope
/// An event recorded for a job (the reply a follow-up may wait for).
public typealias JobEvent = Components.Schemas.JobEvent
/// The org's figures: counts by status, the last hour per minute, task percentiles.
public typealias JobStats = Components.Schemas.JobStats
