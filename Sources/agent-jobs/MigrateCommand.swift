import ArgumentParser

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate", abstract: "Apply schema migrations (serve does it too).")

    @OptionGroup var options: DatabaseOptions

    func run() async throws {
        let location = try options.location()
        try await runReportingFailures {
            _ = try await StoreFactory.open(location)
            print("migrations applied")
        }
    }
}
