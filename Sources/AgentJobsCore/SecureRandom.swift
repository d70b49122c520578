import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Random bytes from the operating system's CSPRNG, drawn 4 KiB at a time.
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
                    pool.bytes.withUnsafeBytes { source in
                        target.baseAddress!.advanced(by: written).copyMemory(
                            from: source.baseAddress!.advanced(by: pool.next), byteCount: take)
                    }
                    // Overwritten at once, so the bytes handed out do not stay in the pool.
                    for index in pool.next..<(pool.next + take) { pool.bytes[index] = 0 }
                    pool.next += take
                    written += take
                }
            }
        }
        return out
    }

    private static func refill(_ bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { buffer in
            var filled = 0
            #if os(Linux)
            // The kernel's CSPRNG, as `getrandom` gives it (not exported to Swift here).
            let file = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
            if file >= 0 {
                while filled < buffer.count {
                    let got = read(file, buffer.baseAddress!.advanced(by: filled), buffer.count - filled)
                    if got > 0 {
                        filled += got
                    } else if got == 0 || errno != EINTR {
                        break
                    }
                }
                close(file)
            }
            #endif
            // Without /dev/urandom (another system, or an error): the standard library's generator.
            var generator = SystemRandomNumberGenerator()
            while filled < buffer.count {
                buffer[filled] = UInt8.random(in: .min ... .max, using: &generator)
                filled += 1
            }
        }
    }

    /// Empties the pool, so that the next draw refills it (for tests).
    static func drain() {
        pool.withLock { $0.next = $0.bytes.count }
    }
}
