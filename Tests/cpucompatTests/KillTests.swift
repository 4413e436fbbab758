import Foundation
import Testing

// `cpucompat patch --in-place` promises that a crash leaves the domain either
// as it was or completely patched, never half-written. This test kills the
// real binary with SIGKILL at seeded random moments of its run and checks
// exactly that, byte for byte.
//
// Iterations: $CPUCOMPAT_KILL_ITERATIONS (default 100); seed:
// $CPUCOMPAT_KILL_SEED (default 1). A temporary file
// `.guest01.xml.cpucompat-XXXXXX` may be left behind by a kill (the original
// is intact then); such files are counted, reported and removed between
// iterations.

@Suite(.serialized) struct KillTests {
    static let iterations = KillEnvironment.integer("CPUCOMPAT_KILL_ITERATIONS") ?? 100
    static let seed = UInt64(KillEnvironment.integer("CPUCOMPAT_KILL_SEED") ?? 1)

    @Test func sigkillDuringPatchInPlaceLeavesTheOriginalOrTheCompleteResult() throws {
        let folder = NSTemporaryDirectory() + "cpucompat-kill-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let domain = folder + "/guest01.xml"
        let original = try #require(FileManager.default.contents(atPath: CLI.fixture("guest01.xml")))
        let arguments = [CLI.binary, "patch", "--in-place", domain,
                         "--host", CLI.fixture("kvm02.xml"), "--host", CLI.fixture("kvm03.xml")]

        // The complete result, from a normal run; and how long a run takes.
        var durations: [Duration] = []
        var patched = Data()
        for _ in 0..<5 {
            try reset(domain, to: original)
            let clock = ContinuousClock()
            let start = clock.now
            let pid = try spawn(arguments)
            let status = wait(pid)
            durations.append(clock.now - start)
            #expect(status == .exited(0), "a normal run must succeed")
            patched = try #require(FileManager.default.contents(atPath: domain))
        }
        #expect(patched != original, "the patch must change guest01.xml")
        #expect(temporaryFiles(in: folder).isEmpty)
        let runTime = durations.max() ?? .milliseconds(50)
        let runMicroseconds = max(1, Int(runTime.components.seconds * 1_000_000 + runTime.components.attoseconds / 1_000_000_000_000))

        var random = KillRandom(seed: Self.seed)
        var keptOriginal = 0, keptPatched = 0, finishedFirst = 0, leftovers = 0, corrupt: [Int] = []
        let clock = ContinuousClock()
        let start = clock.now
        for iteration in 0..<Self.iterations {
            try reset(domain, to: original)
            let delay = Int.random(in: 0...runMicroseconds, using: &random)
            let pid = try spawn(arguments)
            usleep(UInt32(delay))
            kill(pid, SIGKILL)
            let status = wait(pid)
            let content = FileManager.default.contents(atPath: domain)
            if status != .killed {
                finishedFirst += 1
                #expect(status == .exited(0), "iteration \(iteration): \(status)")
            }
            if content == original {
                keptOriginal += 1
            } else if content == patched {
                keptPatched += 1
            } else {
                corrupt.append(iteration)
                Issue.record("iteration \(iteration), killed after \(delay) µs: the domain is neither the original nor the patched file (\(content?.count ?? -1) bytes)")
            }
            #expect(mode(domain) == 0o644, "iteration \(iteration): mode \(String(mode(domain), radix: 8))")
            let temporary = temporaryFiles(in: folder)
            leftovers += temporary.count
            for name in temporary { try? FileManager.default.removeItem(atPath: folder + "/" + name) }
            #expect(Set(try FileManager.default.contentsOfDirectory(atPath: folder)) == ["guest01.xml"])
        }
        let elapsed = clock.now - start
        print("""
            KillTests: \(Self.iterations) iterations (seed \(Self.seed)) in \(elapsed); a run takes up to \(runTime), \
            kills spread over 0…\(runMicroseconds) µs: \(keptOriginal) kept the original, \(keptPatched) the patched \
            file (\(finishedFirst) of the runs finished before the kill), \(corrupt.count) corrupt; \
            \(leftovers) temporary files left behind by kills (removed).
            """)
        #expect(corrupt.isEmpty)
        #expect(keptOriginal + keptPatched == Self.iterations)
        #expect(finishedFirst < Self.iterations, "no run was interrupted; the kills came too late to test anything")
    }

    // MARK: - Helpers

    enum Status: Equatable, CustomStringConvertible {
        case exited(Int32)
        case killed
        case signaled(Int32)

        var description: String {
            switch self {
            case .exited(let code): "exit status \(code)"
            case .killed: "killed"
            case .signaled(let signal): "signal \(signal)"
            }
        }
    }

    /// Writes `bytes` to a new file at `path` (mode 0644), replacing what is there.
    private func reset(_ path: String, to bytes: Data) throws {
        try? FileManager.default.removeItem(atPath: path)
        guard FileManager.default.createFile(atPath: path, contents: bytes, attributes: [.posixPermissions: 0o644]) else {
            throw CocoaError(.fileWriteUnknown)
        }
    }

    /// Starts `arguments` (the program first) with standard streams on
    /// /dev/null and without $CPUCOMPAT_CPU_MAP, like `CLI.run`.
    private func spawn(_ arguments: [String]) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let environment = ProcessInfo.processInfo.environment.filter { $0.key != "CPUCOMPAT_CPU_MAP" }.map { "\($0.key)=\($0.value)" }
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup($0) } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, arguments[0], &actions, nil, argv, envp)
        guard result == 0 else { throw POSIXError(POSIXErrorCode(rawValue: result) ?? .EIO) }
        return pid
    }

    private func wait(_ pid: pid_t) -> Status {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let signal = status & 0x7F
        if signal == 0 { return .exited((status >> 8) & 0xFF) }
        return signal == SIGKILL ? .killed : .signaled(signal)
    }

    private func temporaryFiles(in folder: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasPrefix(".guest01.xml.cpucompat-") }
    }

    private func mode(_ path: String) -> Int {
        var status = stat()
        return stat(path, &status) == 0 ? Int(status.st_mode & 0o7777) : -1
    }
}

/// A seeded generator (SplitMix64) for the kill moments.
private struct KillRandom: RandomNumberGenerator {
    private var generator: SplitMix64

    init(seed: UInt64) { generator = SplitMix64(seed: seed) }

    mutating func next() -> UInt64 { generator.next() }
}

/// Integer settings from the environment.
private enum KillEnvironment {
    static func integer(_ name: String) -> Int? {
        ProcessInfo.processInfo.environment[name].flatMap { Int($0) }
    }
}
