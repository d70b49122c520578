import AgentJobsCore
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Fails with a message naming the address when `host:port` cannot be listened on, before any
/// service starts (the server's own bind error names neither, and comes after the engine ran).
enum PortCheck {
    /// Whether `host` resolves to an address to listen on.
    static func isListenable(host: String) -> Bool {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE
        var results: UnsafeMutablePointer<addrinfo>?
        defer { if results != nil { freeaddrinfo(results) } }
        return !host.isEmpty && getaddrinfo(host, nil, &hints, &results) == 0
    }

    static func ensureAvailable(host: String, port: Int) throws {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE
        var results: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &results) == 0, let first = results else {
            throw AgentJobsError.badRequest("--host '\(host)' is not an address this machine can listen on")
        }
        defer { freeaddrinfo(results) }
        let descriptor = socket(first.pointee.ai_family, first.pointee.ai_socktype, first.pointee.ai_protocol)
        guard descriptor >= 0 else { return }
        defer { close(descriptor) }
        var reuse: Int32 = 1
        setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        guard bind(descriptor, first.pointee.ai_addr, first.pointee.ai_addrlen) == 0 else {
            let reason =
                errno == EADDRINUSE
                ? "is already in use" : "cannot be listened on (\(String(cString: strerror(errno))))"
            throw AgentJobsError(.internal, "port \(port) on \(host) \(reason)")
        }
    }
}
