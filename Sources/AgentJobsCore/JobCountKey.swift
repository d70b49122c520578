/// What a job is counted by for `meta.total`: its org, job type and channel, which never
/// change over the job's life (its status is the fourth part of a count, and changes).
public struct JobCountKey: Sendable, Hashable {
    public var orgID: String
    public var jobTypeID: String
    public var channelCode: String

    public init(orgID: String, jobTypeID: String, channelCode: String) {
        self.orgID = orgID
        self.jobTypeID = jobTypeID
        self.channelCode = channelCode
    }
}
