import Crypto
import Foundation

/// App token strings: `aj_<token id>_<secret>`. The id lets a token be listed and revoked
/// without showing it; the secret is 256 random bits and only its SHA-256 hash is stored.
public enum TokenSecret {
    /// A freshly generated token: its id, the full token string (shown once), and the hash to store.
    public struct Generated: Sendable {
        public var id: String
        public var token: String
        public var secretHash: String
    }

    /// Generates a new token.
    public static func generate() -> Generated {
        let id = hex(SecureRandom.bytes(8))
        let secret = hex(SecureRandom.bytes(32))
        return Generated(id: id, token: "aj_\(id)_\(secret)", secretHash: hash(secret: secret))
    }

    /// Splits a presented token into id and secret; `nil` when it is not shaped like one.
    public static func parse(_ token: String) -> (id: String, secret: String)? {
        // On the UTF-8 bytes: every request parses its token, and `Character` is slow.
        let parts = token.utf8.split(separator: UInt8(ascii: "_"), omittingEmptySubsequences: false)
        func isHex(_ byte: UInt8) -> Bool {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"),
                UInt8(ascii: "A")...UInt8(ascii: "F"):
                true
            default: false
            }
        }
        guard parts.count == 3, parts[0].elementsEqual("aj".utf8), !parts[1].isEmpty, parts[2].count == 64,
            parts[1].count <= 64, parts[1].allSatisfy(isHex), parts[2].allSatisfy(isHex),
            let id = String(parts[1]), let secret = String(parts[2])
        else { return nil }
        return (id, secret)
    }

    /// SHA-256 of the secret, hex-encoded.
    public static func hash(secret: String) -> String {
        sha256Hex(secret)
    }

    /// Compares two hashes in constant time.
    public static func hashesMatch(_ lhs: String, _ rhs: String) -> Bool {
        let left = Array(lhs.utf8)
        let right = Array(rhs.utf8)
        guard left.count == right.count else { return false }
        var difference: UInt8 = 0
        for index in left.indices { difference |= left[index] ^ right[index] }
        return difference == 0
    }

    /// Lower-case hex of `bytes`, written in place (a task's progress token takes two).
    public static func hex<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> String {
        let digits: StaticString = "0123456789abcdef"
        return String(unsafeUninitializedCapacity: bytes.count * 2) { out in
            var end = 0
            for byte in bytes {
                out[end] = digits.utf8Start[Int(byte >> 4)]
                out[end + 1] = digits.utf8Start[Int(byte & 15)]
                end += 2
            }
            return end
        }
    }

    /// The SHA-256 of `text`'s UTF-8, hex-encoded.
    public static func sha256Hex(_ text: String) -> String {
        var text = text
        return text.withUTF8 { hex(Array(SHA256.hash(data: UnsafeRawBufferPointer($0)))) }
    }
}
