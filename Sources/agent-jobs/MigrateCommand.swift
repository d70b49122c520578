import ArgumentParser

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate", abstract: "Apply schema migrations (serve does it too).")

    @OptionGroup var options: DatabaseOptions

    func run() async throws {
        let location = try options.location()
        try await runWithStore(location) { _ in print("migrations applied") }
    }
}
