import Foundation

/// An access level on the SERVICES scope.
public enum Access: String, Sendable, Hashable, CaseIterable, Codable, Comparable {
    case servicesRead = "services:read"
    case servicesWrite = "services:write"

    /// Whether holding `self` grants `needed` (WRITE implies READ).
    public func grants(_ needed: Access) -> Bool {
        self == needed || (self == .servicesWrite && needed == .servicesRead)
    }

    public static func < (lhs: Access, rhs: Access) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// A stored app token. The secret itself is never stored, only its SHA-256 hash.
public struct AppToken: Sendable, Hashable {
    public var id: String
    public var orgID: String
    public var access: Set<Access>
    public var name: String?
    public var secretHash: String
    public var createdAt: Date
    public var revokedAt: Date?

    public init(
        id: String, orgID: String, access: Set<Access>, name: String?,
        secretHash: String, createdAt: Date, revokedAt: Date? = nil
    ) {
        self.id = id
        self.orgID = orgID
        self.access = access
        self.name = name
        self.secretHash = secretHash
        self.createdAt = createdAt
        self.revokedAt = revokedAt
    }

    /// Whether the token grants `needed`.
    public func allows(_ needed: Access) -> Bool {
        access.contains { $0.grants(needed) }
    }

    /// Access levels as stored and listed: `services:read,services:write`.
    public var accessList: String { access.sorted().map(\.rawValue).joined(separator: ",") }

    /// The access of a stored `accessList` (unknown names are dropped).
    public static func accessSet(_ list: String) -> Set<Access> {
        Set(list.split(separator: ",").compactMap { Access(rawValue: String($0)) })
    }
}
