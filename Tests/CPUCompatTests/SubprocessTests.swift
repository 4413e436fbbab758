import Testing
@testable import CPUCompat

#if canImport(Glibc)
import Glibc
#endif

// The process layer `collect` runs ssh and virsh through: exit statuses,
// both streams read together without deadlock, the output limits, the time
// limit killing the whole process group, reaping, descriptors. Each child is
// a real /bin/sh.

// The time limit is a hang guard only: with both cores busy and the whole
// suite running beside them, these real processes took over two minutes.
@Suite(.timeLimit(.minutes(10))) struct SubprocessTests {
    static func sh(_ script: String, timeout: Duration? = .seconds(60), outputLimit: Int = FileSystem.maximumFileSize,
                   errorLimit: Int = 64 << 10) throws -> ProgramRun {
        try Subprocess.run("/bin/sh", arguments: ["-c", script], timeout: timeout, outputLimit: outputLimit, errorLimit: errorLimit)
    }

    static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    /// The state letter of process `pid` in /proc, or nil when there is no such process.
    static func state(of pid: Int32) -> (state: String, parent: Int32)? {
        guard let bytes = try? FileSystem.read("/proc/\(pid)/stat") else { return nil }
        // "pid (comm) S ppid …": comm may hold spaces, so read after its last ")".
        let fields = text(bytes).split(separator: ")").last?.split(separator: " ") ?? []
        guard fields.count > 1, let parent = Int32(fields[1]) else { return nil }
        return (String(fields[0]), parent)
    }

    @Test func exitStatusAndBothStreams() throws {
        let run = try Self.sh("printf 'out put'; printf 'err or' >&2; exit 7")
        #expect(run.termination == .exited(7))
        #expect(Self.text(run.standardOutput) == "out put")
        #expect(Self.text(run.standardError) == "err or")

        let killed = try Self.sh("kill -TERM $$")
        #expect(killed.termination == .signalled(SIGTERM))
    }

    @Test func bothStreamsAreReadTogether() throws {
        // Each stream far beyond a pipe's 64 KiB, written one after the other: reading one
        // stream to its end before the other would leave the child blocked on a full pipe.
        for script in ["head -c 4194304 /dev/zero >&2; head -c 3000000 /dev/zero",
                       "head -c 3000000 /dev/zero; head -c 4194304 /dev/zero >&2"] {
            let run = try Self.sh(script)
            #expect(run.termination == .exited(0))
            #expect(run.standardOutput.count == 3_000_000)
            #expect(run.standardOutput.allSatisfy { $0 == 0 })
            #expect(run.standardError.count == 64 << 10, "standard error is kept up to its limit, the rest read and dropped")
        }
    }

    @Test func outputBeyondTheLimitKillsTheChild() throws {
        let run = try Self.sh("head -c 2000000 /dev/zero; sleep 300", outputLimit: 1_000_000)
        #expect(run.termination == .outputTooLarge)
        #expect(run.standardOutput.count > 1_000_000)
        #expect(run.standardOutput.count <= 1_000_000 + 65536, "reading stops at the chunk that passed the limit")
    }

    @Test func theTimeLimitKillsTheProcessGroupAndReapsTheChild() throws {
        // The shell starts a grandchild, says its process ID, and waits for it.
        let run = try Self.sh("sleep 300 & echo $! $$; wait", timeout: .seconds(1))
        #expect(run.termination == .timedOut)
        let ids = Self.text(run.standardOutput).split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { Int32($0) }
        try #require(ids.count == 2, "the shell must say its grandchild's and its own process ID: \(Self.text(run.standardOutput))")
        let (grandchild, child) = (ids[0], ids[1])
        // The grandchild is gone, or a zombie for init to reap: never still sleeping. SIGKILL
        // reaches it asynchronously, so it may be seen running for a moment while it dies; it
        // is given up to a minute (a hang guard on a loaded machine, not a measure of speed).
        var grandchildState = Self.state(of: grandchild)?.state
        for _ in 0..<600 where grandchildState != nil && grandchildState != "Z" {
            usleep(100_000)
            grandchildState = Self.state(of: grandchild)?.state
        }
        #expect(grandchildState == nil || grandchildState == "Z", "the grandchild \(grandchild) survived the time limit")
        if grandchildState != nil, grandchildState != "Z" { kill(grandchild, SIGKILL) }
        // The child was reaped: not a zombie of this process.
        let childParent = Self.state(of: child)?.parent
        #expect(childParent != getpid(), "the child \(child) was left unreaped")
    }

    @Test func aProgramThatCannotBeStarted() throws {
        #expect(throws: SpawnError(program: "/nonexistent/program", reason: "no such file or directory")) {
            try Subprocess.run("/nonexistent/program", arguments: [], timeout: .seconds(10))
        }
        #expect(throws: SpawnError(program: "cpucompat-test-no-such-program", reason: "no such file or directory")) {
            try Subprocess.run("cpucompat-test-no-such-program", arguments: [], timeout: .seconds(10))
        }
    }

    @Test func theChildGetsDefaultSignalsAndOnlyItsOwnDescriptors() throws {
        // cpucompat ignores SIGPIPE; its children must not (ssh and virsh rely on it).
        let previous = signal(SIGPIPE, SIG_IGN)
        defer { signal(SIGPIPE, previous) }
        let signals = try Self.sh("sed -n 's/^SigIgn:[[:space:]]*//p; s/^SigBlk:[[:space:]]*//p' /proc/self/status")
        let masks = Self.text(signals.standardOutput).split(separator: "\n").compactMap { UInt64($0, radix: 16) }
        try #require(masks.count == 2, "\(Self.text(signals.standardOutput))")
        #expect(masks[0] == 0, "a signal is blocked in the child")
        // glibc's posix_spawn leaves its own internal signals (32 and 33) ignored; signals 1 to 31 (bits 0 to 30) must be at their default.
        #expect(masks[1] & 0x7FFF_FFFF == 0, "a signal is ignored in the child: \(String(masks[1], radix: 16))")

        // Standard input is /dev/null; standard output and error are two pipes
        // whose other ends (the parent's) are not inherited; nor is a file
        // this test holds open close-on-exec.
        let folder = makeScratchDirectory()
        defer { removeTree(folder) }
        let marker = folder + "/held-close-on-exec"
        let held = open(marker, O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
        try #require(held >= 0)
        defer { close(held) }
        let listing = try Self.sh("ls -l /proc/self/fd")
        #expect(listing.termination == .exited(0))
        var targets: [Int: String] = [:]
        for line in Self.text(listing.standardOutput).split(separator: "\n") {
            let parts = line.split(separator: " ")
            guard let arrow = parts.firstIndex(of: "->"), arrow > 0, arrow + 1 < parts.count, let fd = Int(parts[arrow - 1]) else { continue }
            targets[fd] = String(parts[arrow + 1])
        }
        #expect(targets[0] == "/dev/null")
        let output = try #require(targets[1]), error = try #require(targets[2])
        #expect(output.hasPrefix("pipe:") && error.hasPrefix("pipe:") && output != error)
        #expect(!targets.values.contains(marker), "a descriptor open close-on-exec in the parent reached the child")
        // Other descriptors are not judged by their flags in the parent: tests
        // running beside this one open pipes and sockets of their own, not all
        // atomically close-on-exec, and a number seen in the child may name
        // another descriptor in the parent by the time it is looked at.
        for (fd, target) in targets where fd > 2 {
            #expect(target != output && target != error, "descriptor \(fd) (\(target)) of the run's own pipes leaked into the child")
        }
    }

    @Test func concurrentRunsKeepTheirOutputsApartAndCloseTheirDescriptors() throws {
        func openDescriptors() -> Int { (try? FileSystem.contents(ofDirectory: "/proc/self/fd").count) ?? 0 }
        let before = openDescriptors()
        let outputs = Shared([String](repeating: "", count: 24))
        ParallelWork.run(count: 24, width: 8) { index in
            let run = try? Self.sh("i=0; while [ $i -lt 2000 ]; do echo \(index); i=$((i+1)); done")
            outputs.value.withLock { $0[index] = run.map { Self.text($0.standardOutput) } ?? "failed" }
        }
        for (index, output) in outputs.value.withLock({ $0 }).enumerated() {
            #expect(output == String(repeating: "\(index)\n", count: 2000), "run \(index)")
        }
        // 24 runs of three descriptors each: a leak would show far above what other tests open meanwhile.
        #expect(openDescriptors() - before < 24, "descriptors before: \(before), after: \(openDescriptors())")
    }
}

// How collect builds its command lines and reads its host lists.
@Suite struct HostCollectionCommandTests {
    @Test func sshGetsBatchModeFirstAndTheHostAfterDoubleDash() {
        var settings = CollectionSettings(folder: "out")
        settings.sshOptions = ["Port=2222", "BatchMode=no"]
        settings.sshConfigFile = "fleet.conf"
        settings.connectURI = "qemu+ssh://x/system?socket=/a b'c"
        let (program, arguments) = VirshInvocation.command(.domainCapabilities, host: "-oProxyCommand=x", settings: settings)
        #expect(program == "ssh")
        #expect(arguments == ["-o", "BatchMode=yes", "-T", "-a", "-x", "-F", "fleet.conf", "-o", "Port=2222", "-o", "BatchMode=no",
                              "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=70", "--", "-oProxyCommand=x",
                              "'virsh' '-c' 'qemu+ssh://x/system?socket=/a b'\\''c' 'domcapabilities'"])

        let (local, localArguments) = VirshInvocation.command(.capabilities, host: "-", settings: settings)
        #expect(local == "virsh")
        #expect(localArguments == ["-c", "qemu+ssh://x/system?socket=/a b'c", "capabilities"])
    }

    @Test func quotedWordsReachTheProgramAsTheyWere() throws {
        for word in ["plain", "a b", "it's", "''", "", "$(touch x) `y` ; | & \\ \" * ?", "new\nline"] {
            let run = try Subprocess.run("/bin/sh", arguments: ["-c", "printf %s " + VirshInvocation.shellQuoted(word)], timeout: .seconds(30))
            #expect(String(decoding: run.standardOutput, as: UTF8.self) == word)
        }
    }

    @Test func hostListsAndNames() throws {
        let list = "# fleet\r\nkvm02\r\n\n   admin@kvm03  \n\t# old\n-\n"
        #expect(try HostList.parse(Array(list.utf8), path: "hosts") == ["kvm02", "admin@kvm03", "-"])
        #expect(throws: CPUCompatError.invalidHost(name: "../etc", path: "hosts", line: 2,
                                                   reason: "holds a /, and the host's files are named after it")) {
            try HostList.parse(Array("kvm02\n../etc\n".utf8), path: "hosts")
        }
        #expect(throws: CPUCompatError.unreadable(path: "hosts", reason: "is not UTF-8 text")) {
            try HostList.parse([0x6B, 0xFF, 0x0A], path: "hosts")
        }
        #expect(HostList.problem(with: "kvm02") == nil)
        #expect(HostList.problem(with: "-oProxyCommand=x") == nil, "passed after --, it is only a strange host name")
        #expect(HostList.problem(with: "") == "is empty")
        #expect(HostList.problem(with: ".kvm") == "starts with a dot, and the host's files are named after it")
        #expect(HostList.problem(with: "kvm\u{1B}[2J") == "holds a control character")
        #expect(throws: CPUCompatError.invalidHost(name: "kvm02", path: nil, line: nil, reason: "is given twice")) {
            try HostList.check(["kvm02", "kvm03", "kvm02"])
        }
        #expect(throws: CPUCompatError.invalidHost(name: "kvm02-domcaps", path: nil, line: nil,
                                                  reason: "would write kvm02-domcaps.xml, which another host's files include")) {
            try HostList.check(["kvm02", "kvm02-domcaps"])
        }
        #expect(CPUCompatError.invalidHost(name: "a\nb", path: "hosts", line: 3, reason: "holds a control character").description
                == "hosts:3: host a\\nb holds a control character")
    }

    @Test func virshFailuresAreWordedWithTheirReason() {
        let settings = CollectionSettings(folder: "out")
        func run(_ status: Int32, _ error: String) -> ProgramRun {
            ProgramRun(termination: .exited(status), standardOutput: [], standardError: Array(error.utf8))
        }
        #expect(VirshInvocation.problem(with: run(0, "noise"), kind: .capabilities, host: "kvm02", settings: settings) == nil)
        #expect(VirshInvocation.problem(with: run(255, "Warning: x\nssh: Could not resolve hostname kvm09: Name or service not known\n"),
                                        kind: .capabilities, host: "kvm09", settings: settings)
                == "ssh failed: ssh: Could not resolve hostname kvm09: Name or service not known")
        #expect(VirshInvocation.problem(with: run(1, "error: failed to connect to the hypervisor\nerror: no socket\n\n"),
                                        kind: .capabilities, host: "kvm02", settings: settings)
                == "virsh capabilities failed on the host (exit status 1): error: failed to connect to the hypervisor; error: no socket")
        #expect(VirshInvocation.problem(with: ProgramRun(termination: .timedOut, standardOutput: [], standardError: []),
                                        kind: .capabilities, host: "kvm02", settings: settings)
                == "timed out after 60 s (--timeout)")
    }
}
