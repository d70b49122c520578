import Foundation

/// Generates identifiers: a prefix and 26 Crockford base32 characters (48 bits of milliseconds,
/// then 80 random bits), so ids sort by creation time and never collide in practice.
public enum Identifier {
    private static let alphabet = Array("0123456789abcdefghjkmnpqrstvwxyz".utf8)

    /// A new id such as `job_01jd5v7c8k...`.
    public static func make(prefix: String, at date: Date = Date()) -> String {
        let time = UInt64(max(0, Timestamp.millis(date))) & 0xFFFF_FFFF_FFFF
        let draw = SecureRandom.bytes(10)
        let random = draw.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        let random2 = UInt16(draw[8]) << 8 | UInt16(draw[9])
        var characters = [UInt8](repeating: 0, count: 26)
        // 10 characters of time (50 bits, top 2 zero), 16 characters of randomness (80 bits).
        for position in 0..<10 {
            characters[9 - position] = alphabet[Int((time >> (UInt64(position) * 5)) & 31)]
        }
        let randomBits = (UInt128(random) << 16) | UInt128(random2)
        for position in 0..<16 {
            characters[25 - position] = alphabet[Int((randomBits >> (UInt128(position) * 5)) & 31)]
        }
        return prefix + "_" + String(decoding: characters, as: UTF8.self)
    }
}
