import Foundation

/// A tenant. Every job, token and org-restricted job type belongs to one.
public struct Organization: Sendable, Hashable {
    public var id: String
    public var name: String?
    public var createdAt: Date

    public init(id: String, name: String?, createdAt: Date) {
        self.id = id
        self.name = name
        self.createdAt = createdAt
    }
}
