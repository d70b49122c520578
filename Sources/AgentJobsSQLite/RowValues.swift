import AgentJobsCore
import Foundation
import GRDB

/// A row's values read by position without GRDB's generic decoding. On a copied row
/// (`Row.fetchAll`), `row[i] as T` goes through `DatabaseValueConvertible.decode`, not
/// specialized here: about 800 instructions a value with the `Optional` metadata it looks up,
/// and a claimed job reads 30 values (`bench/callgrind.py`). A value stored otherwise than
/// expected goes GRDB's way, so its conversions and errors stay GRDB's.
extension Row {
    private func storage(at index: Int) -> DatabaseValue.Storage {
        self[startIndex.advanced(by: index)].1.storage
    }

    /// The text at `index`.
    func text(at index: Int) -> String {
        if case .string(let value) = storage(at: index) { return value }
        return self[index]
    }

    /// The text at `index`, nil for NULL.
    func optionalText(at index: Int) -> String? {
        switch storage(at: index) {
        case .string(let value): value
        case .null: nil
        default: self[index]
        }
    }

    /// The integer at `index`.
    func integer(at index: Int) -> Int64 {
        if case .int64(let value) = storage(at: index) { return value }
        return self[index]
    }

    /// The integer at `index`, nil for NULL.
    func optionalInteger(at index: Int) -> Int64? {
        switch storage(at: index) {
        case .int64(let value): value
        case .null: nil
        default: self[index]
        }
    }

    /// The instant at `index`, stored as milliseconds since the Unix epoch.
    func date(at index: Int) -> Date {
        Timestamp.date(millis: integer(at: index))
    }

    /// The instant at `index`, nil for NULL.
    func optionalDate(at index: Int) -> Date? {
        optionalInteger(at: index).map { Timestamp.date(millis: $0) }
    }
}
