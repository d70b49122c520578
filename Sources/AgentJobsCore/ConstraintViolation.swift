/// A database constraint a write broke, as a store recognizes it in its driver's error.
public enum ConstraintViolation: Sendable {
    case duplicate
    case missingReference

    /// Runs `body`, turning the violations `classify` recognizes into client errors
    /// (`conflict` for a duplicate, `not_found` for a missing referenced record).
    public static func translating<T>(
        duplicate: String, missingReference: String = "a referenced record does not exist",
        classify: (any Error) -> ConstraintViolation?, _ body: () async throws -> T
    ) async throws -> T {
        do {
            return try await body()
        } catch {
            switch classify(error) {
            case .duplicate?: throw AgentJobsError.conflict(duplicate)
            case .missingReference?: throw AgentJobsError.notFound(missingReference)
            case nil: throw error
            }
        }
    }
}
