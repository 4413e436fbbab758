import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

// End-to-end tests of `cpucompat collect` with real components: a real
// OpenSSH server on 127.0.0.1 that each test starts (SSHServer), the user's
// real ssh client, and on the "remote" side the real virsh of
// libvirt-clients against libvirt's test driver (`-c test:///default`),
// whose capabilities are real libvirt output about a test CPU (i686, no
// model). The expected file content is virsh's own output, run here
// directly; the expected lines are written by hand.

// The time limit is a hang guard only: with both cores busy and the whole
// suite running beside them, these real processes took over two minutes.
@Suite(.timeLimit(.minutes(10))) struct CollectCommandTests {
    static let virsh = "/usr/bin/virsh"

    /// What `virsh -c test:///default capabilities` prints, run directly.
    static func testDriverCapabilities() throws -> String {
        let result = try CLI.runProgram(virsh, ["-c", "test:///default", "capabilities"])
        #expect(result.status == 0, "virsh -c test:///default capabilities failed: \(result.stderr)")
        return result.stdout
    }

    /// A scratch output folder, removed by the caller.
    static func outputFolder() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("cpucompat-collect-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func contents(_ path: String) -> String? {
        FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
    }

    static func names(in folder: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted()
    }

    /// Starts sshd, or records loudly why it could not.
    static func server() throws -> SSHServer {
        #expect(FileManager.default.isExecutableFile(atPath: virsh), "\(virsh) is missing: install libvirt-clients (.ci/run does)")
        do {
            return try SSHServer()
        } catch {
            Issue.record("cannot run the collect tests over ssh: \(error)")
            throw error
        }
    }

    @Test func collectsOverSSHExactlyWhatVirshPrintsAndReportsTheReadersVerdict() throws {
        let server = try Self.server()
        defer { server.stop() }
        let out = try Self.outputFolder()
        defer { try? FileManager.default.removeItem(atPath: out) }

        let result = try CLI.run(["collect", "good", "-o", out, "--ssh-config", server.sshConfig,
                                  "--virsh-connect", "test:///default", "--no-domcaps"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr == "")
        // The test driver's CPU is an i686 with no model and no <feature> elements: the reader accepts it as such.
        #expect(result.stdout == "good: \(out)/good.xml (i686, no model, no vendor, 0 features)\n")
        let expected = try Self.testDriverCapabilities()
        #expect(Self.contents(out + "/good.xml") == expected, "the file must be exactly what virsh printed")
        #expect(Self.names(in: out) == ["good.xml"], "no temporary file may be left")

        // A second run replaces the file (here with the same bytes) and reports the same.
        try "stale".write(toFile: out + "/good.xml", atomically: true, encoding: .utf8)
        let again = try CLI.run(["collect", "good", "-o", out, "--ssh-config", server.sshConfig,
                                 "--virsh-connect", "test:///default", "--no-domcaps", "--format", "json"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(Self.contents(out + "/good.xml") == expected)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(again.stdout.utf8)) as? [String: Any])
        #expect(json["collected"] as? Int == 1)
        #expect(json["failed"] as? Int == 0)
        let host = try #require((json["hosts"] as? [[String: Any]])?.first)
        #expect(host["host"] as? String == "good")
        #expect(host["failure"] == nil)
        let file = try #require((host["files"] as? [[String: Any]])?.first)
        #expect(file["kind"] as? String == "capabilities")
        #expect(file["architecture"] as? String == "i686")
        #expect(file["model"] == nil)
        #expect(file["byteCount"] as? Int == expected.utf8.count)
    }

    @Test func aHostWithoutDomcapabilitiesFailsAndGetsNoFile() throws {
        let server = try Self.server()
        defer { server.stop() }
        let out = try Self.outputFolder()
        defer { try? FileManager.default.removeItem(atPath: out) }

        // libvirt's test driver has no domcapabilities: capabilities work, domcapabilities fail.
        let result = try CLI.run(["collect", "good", "-o", out, "--ssh-config", server.sshConfig,
                                  "--virsh-connect", "test:///default"])
        #expect(result.status == 3)
        #expect(result.stdout == "")
        let lines = result.stderr.split(separator: "\n").map(String.init)
        #expect(lines.count == 2, "\(lines)")
        #expect(lines.first?.hasPrefix("cpucompat: good: virsh domcapabilities failed on the host (exit status 1): ") == true, "\(lines)")
        #expect(lines.first?.contains("virConnectGetDomainCapabilities") == true, "virsh's own reason must be kept: \(lines)")
        #expect(lines.first?.hasSuffix("(--no-domcaps collects the capabilities alone)") == true)
        #expect(lines.last == "cpucompat: 1 of 1 host failed")
        #expect(Self.names(in: out).isEmpty, "a host that failed gets no file, not even its capabilities")
    }

    @Test func failingHostsHaveOneLineEachAndTheOthersAreWritten() throws {
        let server = try Self.server()
        defer { server.stop() }
        let out = try Self.outputFolder()
        defer { try? FileManager.default.removeItem(atPath: out) }

        // The time limit is generous: the good host must finish within it on a loaded machine.
        let result = try CLI.run(["collect", "closed", "good", "badkey", "silent", "-o", out, "--ssh-config", server.sshConfig,
                                  "--virsh-connect", "test:///default", "--no-domcaps", "--timeout", "30", "--jobs", "4"])
        #expect(result.status == 3, "\(result.stderr)")
        #expect(result.stdout == "good: \(out)/good.xml (i686, no model, no vendor, 0 features)\n")
        #expect(Self.contents(out + "/good.xml") == (try Self.testDriverCapabilities()))
        #expect(Self.names(in: out) == ["good.xml"])
        let lines = result.stderr.split(separator: "\n").map(String.init)
        #expect(lines.count == 4, "\(lines)")
        guard lines.count == 4 else { return }
        // In the order given, each naming the host and ssh's own reason.
        #expect(lines[0].hasPrefix("cpucompat: closed: ssh failed: ssh: connect to host 127.0.0.1 port "), "\(lines[0])")
        #expect(lines[0].hasSuffix(": Connection refused"), "\(lines[0])")
        #expect(lines[1] == "cpucompat: badkey: ssh failed: root@127.0.0.1: Permission denied (publickey).")
        #expect(lines[2] == "cpucompat: silent: timed out after 30 s (--timeout)")
        #expect(lines[3] == "cpucompat: 3 of 4 hosts failed")
    }

    @Test func aHostWithoutVirsh() throws {
        let server = try Self.server()
        defer { server.stop() }
        let out = try Self.outputFolder()
        defer { try? FileManager.default.removeItem(atPath: out) }

        let result = try CLI.run(["collect", "good", "-o", out, "--ssh-config", server.sshConfig,
                                  "--virsh", "cpucompat-test-no-such-virsh", "--no-domcaps"])
        #expect(result.status == 3)
        let first = result.stderr.split(separator: "\n").first.map(String.init) ?? ""
        #expect(first.hasPrefix("cpucompat: good: virsh capabilities failed on the host (exit status 127): "), "\(first)")
        #expect(first.contains("cpucompat-test-no-such-virsh: command not found"), "the remote shell's reason: \(first)")
        #expect(first.hasSuffix("(is libvirt-clients installed there? --virsh names the command)"))
        #expect(Self.names(in: out).isEmpty)
    }

    @Test func hostsFromStandardInputAndANameThatLooksLikeAnOption() throws {
        let server = try Self.server()
        defer { server.stop() }
        let out = try Self.outputFolder()
        defer { try? FileManager.default.removeItem(atPath: out) }

        // If the name reached ssh as an option, ssh would run the proxy command
        // and create the file in its working folder, the package root.
        let markerName = "cpucompat-injected-\(UUID().uuidString)"
        let marker = CLI.package + "/" + markerName
        defer { try? FileManager.default.removeItem(atPath: marker) }
        let list = "# the fleet\n\n  good  \n-oProxyCommand=touch \(markerName)\n"
        let result = try CLI.run(["collect", "--hosts-from", "-", "-o", out, "--ssh-config", server.sshConfig,
                                  "--virsh-connect", "test:///default", "--no-domcaps"], input: list)
        #expect(result.status == 3, "\(result.stderr)")
        #expect(result.stdout == "good: \(out)/good.xml (i686, no model, no vendor, 0 features)\n")
        let lines = result.stderr.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("cpucompat: -oProxyCommand=touch ") == true, "\(lines)")
        #expect(lines.first?.contains(": ssh failed: ") == true, "ssh takes it for a host name, and refuses it: \(lines)")
        #expect(!FileManager.default.fileExists(atPath: marker))
        #expect(Self.names(in: out) == ["good.xml"])
    }

    @Test func thisMachineWithoutSSH() throws {
        #expect(FileManager.default.isExecutableFile(atPath: Self.virsh), "\(Self.virsh) is missing: install libvirt-clients")
        let out = try Self.outputFolder()
        defer { try? FileManager.default.removeItem(atPath: out) }
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, 255)
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        #expect(!name.isEmpty)

        let result = try CLI.run(["collect", "-", "-o", out, "--virsh-connect", "test:///default", "--no-domcaps"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == "this machine (\(name)): \(out)/\(name).xml (i686, no model, no vendor, 0 features)\n")
        #expect(Self.contents(out + "/\(name).xml") == (try Self.testDriverCapabilities()))
    }

    @Test func theTimeLimitKillsVirshWithItsChildren() throws {
        let out = try Self.outputFolder()
        defer { try? FileManager.default.removeItem(atPath: out) }
        // A "virsh" that starts a child and hangs; the child's process ID goes to a file.
        let script = out + "-hanging-virsh"
        let pidFile = out + "-child.pid"
        try "#!/bin/sh\nsleep 300 &\necho $! > \(pidFile)\nwait\n".write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        defer {
            try? FileManager.default.removeItem(atPath: script)
            try? FileManager.default.removeItem(atPath: pidFile)
        }

        let result = try CLI.run(["collect", "-", "-o", out, "--virsh", script, "--timeout", "2"])
        #expect(result.status == 3)
        #expect(result.stderr.split(separator: "\n").first.map(String.init)?.hasSuffix(": timed out after 2 s (--timeout) running virsh capabilities") == true,
                "\(result.stderr)")
        let child = try #require(Self.contents(pidFile).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) })
        // Killed with the group: gone, or a zombie waiting for init to reap it, never still sleeping.
        let stat = Self.contents("/proc/\(child)/stat") ?? ""
        let state = stat.split(separator: ")").last?.split(separator: " ").first.map(String.init)
        #expect(stat.isEmpty || state == "Z", "the hanging virsh's child \(child) still runs: \(stat)")
        if !stat.isEmpty, state != "Z" { kill(child, SIGKILL) }
        #expect(Self.names(in: out).isEmpty)
    }

    @Test func badInputIsRefusedBeforeAnyHostIsContacted() throws {
        let out = try Self.outputFolder()
        defer { try? FileManager.default.removeItem(atPath: out) }

        let slash = try CLI.run(["collect", "kvm02", "a/b", "-o", out])
        #expect(slash.status == 2)
        #expect(slash.stderr == "cpucompat: host a/b holds a /, and the host's files are named after it\n")

        let list = out + "/hosts.txt"
        try "kvm02\n# comment\n.hidden\n".write(toFile: list, atomically: true, encoding: .utf8)
        let dot = try CLI.run(["collect", "--hosts-from", list, "-o", out])
        #expect(dot.status == 2)
        #expect(dot.stderr == "cpucompat: \(list):3: host .hidden starts with a dot, and the host's files are named after it\n")

        let twice = try CLI.run(["collect", "kvm02", "kvm02", "-o", out])
        #expect(twice.status == 2)
        #expect(twice.stderr == "cpucompat: host kvm02 is given twice\n")

        let missing = try CLI.run(["collect", "kvm02", "-o", out + "/no-such-folder"])
        #expect(missing.status == 2)
        #expect(missing.stderr == "cpucompat: \(out)/no-such-folder: no such folder\n")

        let none = try CLI.run(["collect", "-o", out])
        #expect(none.status == 64)
        #expect(none.stderr.contains("give the hosts to collect, or --hosts-from FILE"))
        #expect(Self.names(in: out) == ["hosts.txt"])
    }
}
