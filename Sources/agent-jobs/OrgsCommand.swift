import AgentJobsCore
import ArgumentParser
import Foundation

struct OrgsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "orgs", abstract: "Manage organizations.", subcommands: [Create.self, List.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List organizations: one tab-separated line each (id, name, created).")

        @OptionGroup var options: DatabaseOptions

        func run() async throws {
            let location = try options.location()
            try await runWithStore(location) { store in
                for organization in try await store.organizations() {
                    print(
                        [organization.id, organization.name ?? "-", Timestamp.format(organization.createdAt)]
                            .joined(separator: "\t"))
                }
            }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an organization.")

        @OptionGroup var options: DatabaseOptions
        @Argument(help: "The organization's id.") var orgID: String
        @Option(help: "A display name.") var name: String?

        func validate() throws {
            guard TextRules.isIdentifier(orgID) else {
                throw ValidationError("ORG_ID must be 1-128 characters of letters, digits, '-', '_' or '.'")
            }
        }

        func run() async throws {
            let location = try options.location()
            try await runWithStore(location) { store in
                try await store.createOrganization(Organization(id: orgID, name: name, createdAt: Date()))
                print("created organization \(orgID)")
            }
        }
    }
}
