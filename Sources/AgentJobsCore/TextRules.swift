import Foundation

/// Rules for text that is stored in columns or used in lookups.
public enum TextRules {
    /// NUL characters cannot be stored in PostgreSQL text; they are refused everywhere so both
    /// stores behave alike.
    public static func rejectNUL(_ value: String?, field: @autoclosure () -> String) throws(AgentJobsError) {
        if let value, value.utf8.contains(0) {
            throw .badRequest("\(field()) must not contain NUL characters")
        }
    }

    /// Whether `value` has no character other than space, tab, CR and LF (the document's
    /// pattern for required names says the same).
    public static func isBlank(_ value: String) -> Bool {
        value.unicodeScalars.allSatisfy { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" }
    }

    /// Whether `value` could name a stored record (ids never contain NUL).
    public static func isStorable(_ value: String) -> Bool {
        !value.utf8.contains(0)
    }

    /// Ids of orgs and job types: 1-128 characters of ASCII letters, digits, `-`, `_`, `.`.
    public static func isIdentifier(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 128
            && text.utf8.allSatisfy { byte in
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                    || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
            }
    }

    /// A record id from a request path: not blank (400); an id no record can have is unknown (404).
    public static func recordID(_ id: String, kind: String) throws(AgentJobsError) -> String {
        guard !isBlank(id) else {
            throw .badRequest("id must not be blank")
        }
        guard isStorable(id) else { throw .notFound("\(kind) '\(id)' not found") }
        return id
    }
}

extension String {
    /// The string without `suffix` at its end (repeatedly).
    public func trimmingSuffix(_ suffix: String) -> String {
        var text = self
        while !suffix.isEmpty, text.hasSuffix(suffix) { text.removeLast(suffix.count) }
        return text
    }
}
