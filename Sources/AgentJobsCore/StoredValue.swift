/// A value read from the database that this version does not know (a newer version wrote it,
/// or the row was edited by hand): an error, never silently read as something else.
public struct UnknownStoredValue: Error, Sendable, Hashable, CustomStringConvertible {
    public var column: String
    public var value: String

    public init(column: String, value: String) {
        self.column = column
        self.value = value
    }

    public var description: String { "unknown value '\(value)' in column \(column)" }
}

extension RawRepresentable where RawValue == String {
    /// The case a stored text names, or `UnknownStoredValue`. Inlinable, so that the stores
    /// get it specialized: the generic one looked up metadata at every call (`bench/callgrind.py`).
    @inlinable
    public static func stored(_ raw: String, column: String) throws(UnknownStoredValue) -> Self {
        guard let value = Self(rawValue: raw) else { throw UnknownStoredValue(column: column, value: raw) }
        return value
    }
}
