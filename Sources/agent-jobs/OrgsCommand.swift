import AgentJobsCore
import ArgumentParser
import Foundation

struct OrgsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "orgs", abstract: "Manage organizations.", subcommands: [Create.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an organization.")

        @OptionGroup var options: DatabaseOptions
        @Argument(help: "The organization's id.") var orgID: String
        @Option(help: "A display name.") var name: String?

        func validate() throws {
            guard Validation.isIdentifier(orgID) else {
                throw ValidationError("ORG_ID must be 1-128 characters of letters, digits, '-', '_' or '.'")
            }
        }

        func run() async throws {
            let location = try options.location()
            try await runReportingFailures {
                let store = try await StoreFactory.open(location)
                try await store.createOrganization(Organization(id: orgID, name: name, createdAt: Date()))
                print("created organization \(orgID)")
            }
        }
    }
}

enum Validation {
    /// Ids of orgs and job types: 1-128 characters of letters, digits, `-`, `_`, `.`.
    static func isIdentifier(_ text: String) -> Bool {
        !text.isEmpty && text.count <= 128
            && text.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "-_.".unicodeScalars.contains($0)) }
    }
}
