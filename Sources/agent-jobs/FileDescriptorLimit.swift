#if canImport(Glibc)
import Glibc
#endif

/// The process's limit on open files: every task in flight holds a socket (an HTTP agent) or
/// three pipes (a command agent), so `serve` raises the soft limit to the hard one.
enum FileDescriptorLimit {
    /// Raises the soft limit to the hard limit (at most 1,048,576); returns the limit in force.
    static func raise() -> Int {
        #if os(Linux)
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        var limit = rlimit()
        guard getrlimit(resource, &limit) == 0 else { return 0 }
        let wanted = min(limit.rlim_max, rlim_t(1 << 20))
        if limit.rlim_cur < wanted {
            var raised = limit
            raised.rlim_cur = wanted
            if setrlimit(resource, &raised) == 0 { return Int(wanted) }
        }
        return Int(limit.rlim_cur)
        #else
        return 0
        #endif
    }
}
