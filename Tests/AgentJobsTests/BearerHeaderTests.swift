import Hummingbird
import Testing

@testable import AgentJobsAPI

/// The Authorization header read on its bytes (`asciiBearer`) gives what the general reading gives.
@Suite("Bearer header")
struct BearerHeaderTests {
    typealias Auth = AuthMiddleware<BasicRequestContext>

    @Test(
        "the fast reading takes only what the general one takes, and takes it the same",
        arguments: [
            "Bearer aj_1_2", "bearer aj_1_2", "BEARER   aj_1_2 \t ", "Bearer \taj_1_2", "Bearer", "Bearer ", "Bearer  ",
            " Bearer aj_1_2", "Bearer\taj_1_2", "Basic abc", "Bearerx aj", "Bearer a b", "Bearer aj_é_2",
            "Bearer aj_1_2\u{00A0}", "",
        ])
    func sameAsGeneral(header: String) {
        let general = try? Auth.bearer(header)
        let fast = Auth.asciiBearer(header)
        #expect(fast == nil || fast == general)
    }

    @Test("the usual headers take the fast reading")
    func usualHeaders() {
        #expect(Auth.asciiBearer("Bearer aj_1_2") == "aj_1_2")
        #expect(Auth.asciiBearer("bearer aj_1_2") == "aj_1_2")
        #expect(Auth.asciiBearer("BEARER   aj_1_2 \t ") == "aj_1_2")
        #expect(Auth.asciiBearer("Bearer aj_1_2\u{00A0}") == nil, "non-ASCII goes the general way")
    }
}
