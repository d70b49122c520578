/// The one set of bounds for every count and duration, whatever the entry point: the API's
/// `config`, `--default-config`, `--timeout`, an executor reply's `after_minutes`. Stored
/// values inside these bounds can never make time arithmetic trap.
public enum Bounds {
    /// Counts (`max_follow_ups`, `max_task_retries`): 0 to 10,000.
    public static let maxCount = 10_000
    /// Minutes (`task_retry_interval`, `max_time_to_complete`, `after_minutes`, a job type's
    /// timeout): at most 527,040 (366 days).
    public static let maxMinutes = 527_040.0

    /// Checks a count; the message names `field` (made only for the message).
    public static func checkCount(_ value: Int, field: @autoclosure () -> String) throws(AgentJobsError) {
        guard value >= 0, value <= maxCount else {
            throw .badRequest("\(field()) must be an integer between 0 and \(maxCount)")
        }
    }

    /// Checks a number of minutes (fractions allowed); `positive`: 0 is refused too.
    public static func checkMinutes(
        _ value: Double, field: @autoclosure () -> String, positive: Bool
    )
        throws(AgentJobsError)
    {
        guard value.isFinite, positive ? value > 0 : value >= 0, value <= maxMinutes else {
            let low = positive ? "> 0" : ">= 0"
            throw .badRequest("\(field()) must be a number of minutes \(low) and at most \(Int(maxMinutes))")
        }
    }
}
