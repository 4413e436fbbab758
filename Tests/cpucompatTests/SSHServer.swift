import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A real OpenSSH server on 127.0.0.1 for one test: its own host key, a
/// client key in its authorized_keys, a free high port, started as
/// `sshd -D -e -f CONFIG` as a child and killed by `stop()`. Beside it, an ssh client
/// configuration (`sshConfig`) with these Host aliases:
///
/// - `good`: the server, with the authorized key;
/// - `badkey`: the server, with a key it does not know (publickey refused);
/// - `closed`: a port nothing listens on (connection refused);
/// - `silent`: a port that accepts connections and never says a word, as a
///   hung host does (ssh waits for the banner until the time limit).
///
/// When sshd cannot be started, `init` throws an error that says why, so the
/// test fails loudly: CI installs openssh-server (`.ci/run`).
final class SSHServer {
    struct StartFailure: Error, CustomStringConvertible {
        var description: String
    }

    let folder: String
    let port: Int
    var sshConfig: String { folder + "/ssh_config" }
    private let pid: pid_t
    private let silentListener: Int32

    static let sshd = "/usr/sbin/sshd"

    init() throws {
        guard FileManager.default.isExecutableFile(atPath: Self.sshd) else {
            throw StartFailure(description: "\(Self.sshd) is missing: install openssh-server (.ci/run does), the collect tests need a real sshd")
        }
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/ssh-keygen") else {
            throw StartFailure(description: "/usr/bin/ssh-keygen is missing: install openssh-client")
        }
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("cpucompat-sshd-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        // sshd refuses to start without its privilege-separation folder, which only the package's service creates.
        if !FileManager.default.fileExists(atPath: "/run/sshd") {
            try FileManager.default.createDirectory(atPath: "/run/sshd", withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o755])
        }
        for key in ["host_key", "client_key", "other_key"] {
            let result = try CLI.runProgram("/usr/bin/ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", key, "-f", folder + "/" + key])
            guard result.status == 0 else { throw StartFailure(description: "ssh-keygen failed: \(result.stderr)") }
        }
        try FileManager.default.copyItem(atPath: folder + "/client_key.pub", toPath: folder + "/authorized_keys")

        silentListener = try Self.listen()
        let silentPort = try Self.port(of: silentListener)
        let closedPort = try Self.freePort()

        // A free port can be taken between the check and sshd's bind: try a few.
        var lastFailure = ""
        for _ in 0..<5 {
            let port = try Self.freePort()
            let config = """
                Port \(port)
                ListenAddress 127.0.0.1
                HostKey \(folder)/host_key
                PidFile \(folder)/sshd.pid
                AuthorizedKeysFile \(folder)/authorized_keys
                StrictModes no
                UsePAM no
                PasswordAuthentication no
                KbdInteractiveAuthentication no
                PermitRootLogin prohibit-password

                """
            try config.write(toFile: folder + "/sshd_config", atomically: true, encoding: .utf8)
            let log = folder + "/sshd.log"
            let pid = try Self.spawnSSHD(config: folder + "/sshd_config", log: log)
            if Self.waitUntilAccepting(port: port, while: pid) {
                self.pid = pid
                self.port = port
                try writeClientConfig(port: port, silentPort: silentPort, closedPort: closedPort)
                return
            }
            Self.end(pid)
            lastFailure = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        }
        close(silentListener)
        throw StartFailure(description: "sshd could not be started on 127.0.0.1 (the collect tests need it): \(lastFailure)")
    }

    /// Kills sshd and removes its folder.
    func stop() {
        Self.end(pid)
        close(silentListener)
        try? FileManager.default.removeItem(atPath: folder)
    }

    private func writeClientConfig(port: Int, silentPort: Int, closedPort: Int) throws {
        func host(_ alias: String, port: Int, key: String) -> String {
            """
            Host \(alias)
              HostName 127.0.0.1
              Port \(port)
              User root
              IdentityFile \(folder)/\(key)
              IdentitiesOnly yes
              IdentityAgent none
              UserKnownHostsFile \(folder)/known_hosts
              StrictHostKeyChecking accept-new
              ConnectTimeout 60

            """
        }
        let config = host("good", port: port, key: "client_key") + host("badkey", port: port, key: "other_key")
            + host("closed", port: closedPort, key: "client_key") + host("silent", port: silentPort, key: "client_key")
        try config.write(toFile: sshConfig, atomically: true, encoding: .utf8)
    }

    /// A TCP socket listening on 127.0.0.1 at a port the kernel chose.
    private static func listen() throws -> Int32 {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw StartFailure(description: "socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, Glibc.listen(descriptor, 16) == 0 else {
            close(descriptor)
            throw StartFailure(description: "bind/listen on 127.0.0.1: \(String(cString: strerror(errno)))")
        }
        return descriptor
    }

    private static func port(of descriptor: Int32) throws -> Int {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let result = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard result == 0 else { throw StartFailure(description: "getsockname: \(String(cString: strerror(errno)))") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// A port nothing listens on now.
    private static func freePort() throws -> Int {
        let descriptor = try listen()
        defer { close(descriptor) }
        return try port(of: descriptor)
    }

    /// Starts `sshd -D -e -f CONFIG` with standard error to `log`.
    ///
    /// Not through Foundation's Process: it watches a child through a
    /// descriptor the child inherits, and sshd closes every descriptor at
    /// start, which Process takes for its end and then waits for it, blocking
    /// the thread that reaps every other Process of the tests.
    private static func spawnSSHD(config: String, log: String) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, log, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        let arguments = [sshd, "-D", "-e", "-f", config]
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, sshd, &actions, nil, &argv, environ)
        guard result == 0 else { throw StartFailure(description: "cannot start \(sshd): \(String(cString: strerror(result)))") }
        return pid
    }

    /// Whether `pid` has not exited (it is reaped if it has).
    private static func isRunning(_ pid: pid_t) -> Bool {
        var status: Int32 = 0
        return waitpid(pid, &status, WNOHANG) == 0
    }

    /// Stops sshd and reaps it.
    private static func end(_ pid: pid_t) {
        guard isRunning(pid) else { return }
        kill(pid, SIGTERM)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
    }

    /// Whether sshd accepts connections on `port` (tried for up to 60 s, as long as it runs).
    private static func waitUntilAccepting(port: Int, while pid: pid_t) -> Bool {
        for _ in 0..<600 {
            guard isRunning(pid) else { return false }
            let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = UInt16(port).bigEndian
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            close(descriptor)
            if connected == 0 { return true }
            usleep(100_000)
        }
        return false
    }
}
