/// Where the agent should act, for example a Slack channel.
public struct TargetChannel: Sendable, Hashable, Codable {
    public var orgID: String
    public var platform: String
    public var type: String
    /// The channel's code; jobs are filtered and sorted by it as `channel_code`.
    public var code: String
    public var data: JSONObject

    public init(orgID: String, platform: String, type: String, code: String, data: JSONObject = [:]) {
        self.orgID = orgID
        self.platform = platform
        self.type = type
        self.code = code
        self.data = data
    }

    enum CodingKeys: String, CodingKey {
        case orgID = "org_id"
        case platform, type, code, data
    }
}
