/// Runs `operation`, throwing `timeoutError()` instead if it takes longer than `limit` (the
/// operation is then cancelled).
func withDeadline<Value: Sendable>(
    _ limit: Duration, orThrow timeoutError: @escaping @Sendable () -> any Error,
    _ operation: @escaping @Sendable () async throws -> Value
) async throws -> Value {
    try await withThrowingTaskGroup(of: Value?.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: limit)
            return nil
        }
        let finished = try await group.next() ?? nil
        group.cancelAll()
        guard let finished else { throw timeoutError() }
        return finished
    }
}
