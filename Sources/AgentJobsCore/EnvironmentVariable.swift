/// A variable a job type's programs get (`job-types create … --env NAME` or `--env NAME=VALUE`).
/// Nothing else of the server's environment reaches them but `PATH`, `HOME`, `LANG`, `LC_ALL`,
/// `TZ` and `TMPDIR`.
public struct EnvironmentVariable: Sendable, Hashable, Codable {
    public enum Value: Sendable, Hashable, Codable {
        /// The server's value of the same name, if it has one.
        case passThrough
        /// This value.
        case set(String)
    }

    public var name: String
    public var value: Value

    public init(name: String, value: Value) {
        self.name = name
        self.value = value
    }

    /// Parses `NAME` (the server's value passes through) or `NAME=VALUE`. Names are letters,
    /// digits and `_`, not starting with a digit, at most 128 characters.
    public static func parse(_ text: String) throws(AgentJobsError) -> EnvironmentVariable {
        let name: String
        var value = Value.passThrough
        if let equals = text.firstIndex(of: "=") {
            name = String(text[..<equals])
            value = .set(String(text[text.index(after: equals)...]))
        } else {
            name = text
        }
        guard isValidName(name) else {
            throw .badRequest(
                "--env: '\(name)' is not a variable name (letters, digits and _, not starting with a digit)")
        }
        if case .set(let set) = value { try TextRules.rejectNUL(set, field: "--env \(name)") }
        return EnvironmentVariable(name: name, value: value)
    }

    static func isValidName(_ name: String) -> Bool {
        guard let first = name.utf8.first, name.utf8.count <= 128, !(first >= 0x30 && first <= 0x39) else {
            return false
        }
        return name.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == UInt8(ascii: "_")
        }
    }
}
