import AgentJobsCore

/// A row sent to PostgreSQL in a JSON array that `jsonb_to_recordset` turns back into rows.
/// The arrays are written with the core's `JSONWriter`: `JSONEncoder` was a fifth of `serve`'s
/// CPU in a PostgreSQL drain.
protocol RecordSetRow {
    /// Writes the row's members, keyed by its columns' names as the statement's record
    /// definition spells them (in any order; `jsonb_to_recordset` matches them by name).
    func writeMembers(to json: inout JSONWriter)
}

extension Array where Element: RecordSetRow {
    /// The rows as one JSON array of objects.
    var recordSetJSON: String {
        var json = JSONWriter(capacity: 64 + 256 * count)
        json.array(self) { json, row in json.object { row.writeMembers(to: &$0) } }
        return json.text
    }
}

extension JSONWriter {
    /// A member: its key and an integer, `null` when absent.
    mutating func member(_ name: StaticString, integer value: Int64?, first: Bool = false) {
        key(name, first: first)
        if let value { integer(Int(value)) } else { null() }
    }
}
