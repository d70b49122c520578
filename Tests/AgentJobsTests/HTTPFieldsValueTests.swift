import HTTPTypes
import Testing

@testable import AgentJobsAPI

/// `HTTPFields.value(of:)` answers what the subscript answers, one field or several.
@Suite("Header values")
struct HTTPFieldsValueTests {
    @Test(
        "the same answer as the subscript",
        arguments: [
            [], [("Content-Type", "application/json")], [("content-type", "text/plain")],
            [("Accept", "a"), ("Accept", "b")], [("Accept", "a"), ("Content-Type", "c"), ("accept", "b")],
            [("Content-Type", "")], [("X-Other", "1")],
        ] as [[(String, String)]])
    func sameAsSubscript(fields: [(String, String)]) throws {
        var headers = HTTPFields()
        for (name, value) in fields { headers.append(HTTPField(name: try #require(.init(name)), value: value)) }
        for name in [HTTPField.Name.contentType, .accept, .authorization] {
            #expect(headers.value(of: name) == headers[name], "\(name) in \(fields)")
        }
    }

    @Test("a field given twice is joined, as the subscript joins it")
    func repeated() {
        var headers = HTTPFields()
        headers.append(HTTPField(name: .accept, value: "a"))
        headers.append(HTTPField(name: .accept, value: "b"))
        #expect(headers.value(of: .accept) == "a, b")
        #expect(headers.value(of: .contentType) == nil)
    }
}
