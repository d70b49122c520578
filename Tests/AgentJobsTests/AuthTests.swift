import Foundation
import HTTPTypes
import Testing

@Suite("Authentication and tenancy (CONTRACT §2)")
struct AuthTests {
    static let endpoints: [(HTTPRequest.Method, String)] = [
        (.post, "/services/agent-jobs"), (.get, "/services/agent-jobs"),
        (.get, "/services/agent-jobs/job_x"), (.delete, "/services/agent-jobs/job_x"),
    ]

    @Test("401 with WWW-Authenticate for missing, malformed, unknown and revoked tokens on every endpoint")
    func unauthorized() async throws {
        let env = try await TestEnvironment.make()
        try await env.withClient { api in
            let unknown = "aj_0123456789abcdef_" + String(repeating: "a", count: 64)
            let wrongSecret = String(env.writeA.dropLast(4)) + "0000"
            let cases: [(String, HTTPFields)] = [
                ("missing", [:]),
                ("not bearer", [.authorization: "Basic abc"]),
                ("malformed", [.authorization: "Bearer nonsense"]),
                ("unknown", [.authorization: "Bearer \(unknown)"]),
                ("wrong secret", [.authorization: "Bearer \(wrongSecret)"]),
                ("revoked", [.authorization: "Bearer \(env.revokedA)"]),
            ]
            for (method, path) in Self.endpoints {
                for (name, headers) in cases {
                    let reply = try await api.request(
                        method, path, token: nil, body: method == .post ? jobBody() : nil, headers: headers)
                    #expect(reply.status == 401, "\(name) \(method) \(path)")
                    #expect(reply.errorCode == "unauthorized")
                    #expect(reply.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true)
                }
            }
        }
    }

    @Test(
        "403 for a read token on POST and DELETE; READ suffices for GET; WRITE implies READ",
        arguments: StoreKind.available)
    func accessLevels(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        try await env.withClient { api in
            let created = try await api.create(jobBody(), token: env.writeA)
            let id = try #require(created.json["data"]["job_id"].string)
            let post = try await api.create(jobBody(), token: env.readA)
            #expect(post.status == 403)
            #expect(post.errorCode == "forbidden")
            let delete = try await api.request(.delete, "/services/agent-jobs/\(id)", token: env.readA)
            #expect(delete.status == 403)
            let awaited1 = try await api.list(token: env.readA)
            #expect(awaited1.status == 200)
            let awaited2 = try await api.request(.get, "/services/agent-jobs/\(id)", token: env.readA)
            #expect(awaited2.status == 200)
            let awaited3 = try await api.list(token: env.writeA)
            #expect(awaited3.status == 200)
        }
    }

    @Test(
        "org isolation both ways: 403 on another org's job, never listed, channel of another org refused",
        arguments: StoreKind.available)
    func orgIsolation(kind: StoreKind) async throws {
        let env = try await TestEnvironment.make(kind)
        try await env.withClient { api in
            let jobA = try #require(try await api.create(jobBody(), token: env.writeA).json["data"]["job_id"].string)
            let jobB = try #require(
                try await api.create(jobBody(org: TestEnvironment.orgB), token: env.writeB).json["data"]["job_id"]
                    .string)

            for (token, foreign) in [(env.writeA, jobB), (env.writeB, jobA)] {
                let get = try await api.request(.get, "/services/agent-jobs/\(foreign)", token: token)
                #expect(get.status == 403)
                #expect(get.errorCode == "forbidden")
                let delete = try await api.request(.delete, "/services/agent-jobs/\(foreign)", token: token)
                #expect(delete.status == 403)
            }
            let listA = try await api.list(token: env.readA)
            #expect(listA.json["data"].array.compactMap { $0["job_id"].string } == [jobA])
            #expect(listA.json["meta"]["total"].int == 1)
            #expect(listA.json["meta"]["org_id"].string == TestEnvironment.orgA)
            let listB = try await api.list(token: env.writeB)
            #expect(listB.json["data"].array.compactMap { $0["job_id"].string } == [jobB])

            let crossChannel = try await api.create(jobBody(org: TestEnvironment.orgB), token: env.writeA)
            #expect(crossChannel.status == 403)
            #expect(crossChannel.errorMessage.contains("target_channel.org_id"))

            // The canceled-by-other-org attempt above changed nothing.
            let stillWaiting = try await api.request(.get, "/services/agent-jobs/\(jobB)", token: env.writeB)
            #expect(stillWaiting.json["data"]["job_status"].string == "WAITING")
        }
    }
}
