import AgentJobsCore
import ArgumentParser
import Foundation

extension Access: ExpressibleByArgument {}

struct TokensCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokens", abstract: "Manage app tokens.", subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an app token and print it (and nothing else) on stdout.")

        @OptionGroup var options: DatabaseOptions
        @Option(help: "The organization the token belongs to.") var org: String
        @Option(help: "services:read or services:write (repeatable).") var access: [Access]
        @Option(help: "A display name.") var name: String?

        func validate() throws {
            guard !access.isEmpty else { throw ValidationError("--access is required (services:read|services:write)") }
        }

        func run() async throws {
            let location = try options.location()
            try await runWithStore(location) { store in
                try await store.requireOrganization(org)
                let generated = TokenSecret.generate()
                try await store.createToken(
                    AppToken(
                        id: generated.id, orgID: org, access: Set(access), name: name,
                        secretHash: generated.secretHash, createdAt: Date()))
                print(generated.token)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List an organization's tokens: id, org, access, name, created, revoked (never the secret).")

        @OptionGroup var options: DatabaseOptions
        @Option(help: "The organization.") var org: String

        func run() async throws {
            let location = try options.location()
            try await runWithStore(location) { store in
                try await store.requireOrganization(org)
                for token in try await store.tokens(orgID: org) {
                    let fields = [
                        token.id, token.orgID, token.accessList, token.name ?? "-",
                        Timestamp.format(token.createdAt), token.revokedAt.map(Timestamp.format) ?? "-",
                    ]
                    print(fields.joined(separator: "\t"))
                }
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a token, given its id (as listed) or the token itself.")

        @OptionGroup var options: DatabaseOptions
        @Argument(help: "A token id or a token.") var token: String

        func run() async throws {
            let location = try options.location()
            try await runWithStore(location) { store in
                var id = token
                if let parsed = TokenSecret.parse(token) {
                    guard let stored = try await store.token(id: parsed.id),
                        TokenSecret.hashesMatch(stored.secretHash, TokenSecret.hash(secret: parsed.secret))
                    else { throw AgentJobsError.notFound("no such token") }
                    id = parsed.id
                }
                guard try await store.revokeToken(id: id, at: Date()) else {
                    throw AgentJobsError.notFound("no token with id '\(id)'")
                }
                print("revoked token \(id)")
            }
        }
    }
}

extension JobStore {
    /// Fails with "organization … does not exist" unless `id` names one.
    func requireOrganization(_ id: String) async throws {
        guard try await organization(id: id) != nil else {
            throw AgentJobsError.notFound("organization '\(id)' does not exist")
        }
    }
}
