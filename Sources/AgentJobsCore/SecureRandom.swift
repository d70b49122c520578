import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Random bytes from the operating system's CSPRNG (`getrandom`), drawn 4 KiB at a time.
///
/// `SystemRandomNumberGenerator` makes one `getrandom` system call per 8 bytes: an id took
/// two and a progress token four, on SQLite's one writer for every task started. A byte handed
/// out is never handed out again, and the pool is only ever filled by the kernel.
public enum SecureRandom {
    private struct Pool {
        var bytes = [UInt8](repeating: 0, count: 4096)
        var next = 4096
    }

    private static let pool = Mutex(Pool())

    /// `count` random bytes.
    public static func bytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        out.withUnsafeMutableBytes { target in
            pool.withLock { pool in
                var written = 0
                while written < count {
                    if pool.next == pool.bytes.count {
                        refill(&pool.bytes)
                        pool.next = 0
                    }
                    let take = min(count - written, pool.bytes.count - pool.next)
                    let range = pool.next..<(pool.next + take)
                    pool.bytes.withUnsafeMutableBytes { source in
                        let drawn = UnsafeMutableRawBufferPointer(rebasing: source[range])
                        target.baseAddress!.advanced(by: written).copyMemory(from: drawn.baseAddress!, byteCount: take)
                        // Cleared at once, so the bytes handed out do not stay in the pool.
                        drawn.initializeMemory(as: UInt8.self, repeating: 0)
                    }
                    pool.next += take
                    written += take
                }
            }
        }
        return out
    }

    private typealias GetRandom = @convention(c) (UnsafeMutableRawPointer?, Int, UInt32) -> Int

    /// The C library's `getrandom` (the kernel's CSPRNG, as `SystemRandomNumberGenerator` uses
    /// it), looked up at run time: Swift's Glibc module does not export it.
    private static let systemGetRandom: GetRandom? = {
        #if canImport(Glibc)
        guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "getrandom") else { return nil }
        return unsafeBitCast(symbol, to: GetRandom.self)
        #else
        return nil
        #endif
    }()

    private static func refill(_ bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { buffer in
            var filled = 0
            if let getrandom = systemGetRandom {
                while filled < buffer.count {
                    let got = getrandom(buffer.baseAddress!.advanced(by: filled), buffer.count - filled, 0)
                    if got > 0 {
                        filled += got
                    } else if got == 0 || errno != EINTR {
                        break
                    }
                }
            }
            // Without getrandom (another system, or an error): the standard library's generator.
            var generator = SystemRandomNumberGenerator()
            while filled < buffer.count {
                buffer[filled] = UInt8.random(in: .min ... .max, using: &generator)
                filled += 1
            }
        }
    }

    /// Whether the pool is filled by `getrandom` (for tests: on Linux it must be).
    static var fillsFromGetRandom: Bool { systemGetRandom != nil }

    /// Empties the pool, so that the next draw refills it (for tests).
    static func drain() {
        pool.withLock { $0.next = $0.bytes.count }
    }
}
