import Testing

@testable import AgentJobsCore

/// The pool of random bytes behind ids and tokens (`SecureRandom`).
@Suite("SecureRandom")
struct SecureRandomTests {
    @Test("draws have the length asked for and never repeat, across refills of the pool")
    func drawsNeverRepeat() {
        SecureRandom.drain()
        var seen = Set<[UInt8]>()
        // 10,000 draws of 32 bytes: about 80 refills of the 4 KiB pool, some draws across two.
        for _ in 0..<10_000 {
            let draw = SecureRandom.bytes(32)
            #expect(draw.count == 32)
            seen.insert(draw)
        }
        #expect(seen.count == 10_000)
        #expect(SecureRandom.bytes(0).isEmpty)
    }

    #if os(Linux)
    @Test("on Linux the pool is filled by getrandom, found at run time")
    func getRandomFound() {
        #expect(SecureRandom.fillsFromGetRandom)
    }
    #endif

    @Test("a draw larger than the pool is filled to the end")
    func largeDraw() {
        let draw = SecureRandom.bytes(10_000)
        #expect(draw.count == 10_000)
        // Every byte value appears among 10,000 random bytes (a zeroed or unfilled tail would
        // leave most of them out).
        #expect(Set(draw).count == 256)
        #expect(Set(draw.suffix(2_000)).count > 200)
    }

    @Test("ids and tokens built on it are distinct")
    func idsAndTokens() {
        let ids = (0..<2_000).map { _ in Identifier.make(prefix: "task") }
        #expect(Set(ids).count == ids.count)
        let tokens = (0..<2_000).map { _ in ProgressToken.generate().token }
        #expect(Set(tokens).count == tokens.count)
        #expect(tokens.allSatisfy { $0.count == "ajp_".count + 64 })
    }
}
