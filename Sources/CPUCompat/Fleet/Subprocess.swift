import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// What became of a program that `Subprocess.run` ran.
package struct ProgramRun: Hashable, Sendable {
    /// How the program ended.
    package enum Termination: Hashable, Sendable {
        /// It exited with this status.
        case exited(Int32)
        /// A signal (not ours) ended it.
        case signalled(Int32)
        /// It was still running at the time limit, and was killed with its process group.
        case timedOut
        /// It printed more than the output limit on standard output, and was
        /// killed with its process group.
        case outputTooLarge
    }

    /// How the program ended.
    package var termination: Termination
    /// Everything it printed on standard output (up to the limit).
    package var standardOutput: [UInt8]
    /// The first `errorLimit` bytes it printed on standard error; the rest is read and dropped.
    package var standardError: [UInt8]
}

/// A program that could not be started at all (not found, not executable, no resources).
package struct SpawnError: Error, Hashable, Sendable {
    /// The program, as given.
    package var program: String
    /// The reason, as the C library words it, lower-cased (`no such file or directory`).
    package var reason: String
}

/// Runs programs to their end, without Foundation and without a shell.
///
/// The child gets `/dev/null` as standard input and a pipe each for standard
/// output and standard error, which are read together (`poll`), so a child
/// that fills one while the other is waited on cannot deadlock. It runs in a
/// process group of its own, so that at the time limit (or when its output
/// passes the limit) the whole group, grandchildren too, is killed
/// (`SIGKILL`); the child is always reaped, so no zombie remains. Every
/// descriptor is opened close-on-exec, so runs on other threads never
/// inherit each other's pipes, and each is closed before `run` returns.
/// Signals the parent ignores (cpucompat ignores `SIGPIPE`) are set back to
/// their default in the child, and its signal mask is cleared.
package enum Subprocess {
    /// How long a wait lasts before the child's state is looked at again,
    /// when its pipes give no news: a grandchild that keeps a pipe open
    /// must not keep the run alive after the child has exited.
    private static let checkInterval = 100  // milliseconds
    /// The most read from a pipe after the child has been reaped: far above
    /// a pipe's capacity (64 KiB, at most 1 MiB unless raised by root).
    private static let finalReadLimit = 16 << 20

    /// Runs `program` with `arguments` and the parent's environment.
    ///
    /// - Parameters:
    ///   - program: A path, or a name looked up in `PATH` (as `posix_spawnp` does).
    ///   - arguments: The arguments after the program's name.
    ///   - timeout: The time limit, or nil for none.
    ///   - outputLimit: The most standard output kept; more kills the program.
    ///   - errorLimit: The most standard error kept; more is read and dropped.
    /// - Returns: How the program ended and what it printed.
    /// - Throws: `SpawnError` when the program cannot be started.
    package static func run(_ program: String, arguments: [String], timeout: Duration?,
                            outputLimit: Int = FileSystem.maximumFileSize,
                            errorLimit: Int = 64 << 10) throws(SpawnError) -> ProgramRun {
        let deadline = timeout.map { ContinuousClock.now + $0 }
        let failure = { @Sendable (code: Int32) in SpawnError(program: program, reason: FileSystem.describe(code)) }

        let input = open("/dev/null", O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw failure(errno) }
        defer { close(input) }
        // pipe2 (atomic close-on-exec) is not in Swift's Glibc module, so the
        // pipes are made and marked, and the child spawned, under one lock:
        // a child spawned on another thread meanwhile would inherit them.
        var readEnds: [Int32] = [-1, -1]
        defer { for descriptor in readEnds where descriptor >= 0 { close(descriptor) } }
        let spawned: Result<pid_t, SpawnError> = spawning.withLock { _ in
            var outputPipe: [Int32] = [-1, -1], errorPipe: [Int32] = [-1, -1]
            guard pipe(&outputPipe) == 0 else { return .failure(failure(errno)) }
            guard pipe(&errorPipe) == 0 else {
                let code = errno
                close(outputPipe[0])
                close(outputPipe[1])
                return .failure(failure(code))
            }
            readEnds = [outputPipe[0], errorPipe[0]]
            for descriptor in outputPipe + errorPipe { _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC) }
            let child = spawn(program, arguments: arguments, input: input, output: outputPipe[1], error: errorPipe[1])
            // The child holds its own copies; the parent's write ends must go, or the pipes never end.
            close(outputPipe[1])
            close(errorPipe[1])
            return child.mapError { failure($0.code) }
        }
        let pid: pid_t
        switch spawned {
        case let .success(child): pid = child
        case let .failure(error): throw error
        }
        for descriptor in readEnds { _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK) }

        var output: [UInt8] = [], error: [UInt8] = []
        var termination: ProgramRun.Termination?
        var buffer = [UInt8](repeating: 0, count: 65536)

        /// Reads what is there now from pipe `index`, at most `budget` bytes;
        /// false when standard output passed its limit.
        func drain(_ index: Int, budget: Int = .max) -> Bool {
            var taken = 0
            while readEnds[index] >= 0, taken < budget {
                let count = buffer.withUnsafeMutableBytes { read(readEnds[index], $0.baseAddress, $0.count) }
                if count > 0 {
                    taken += count
                    if index == 0 {
                        output += buffer[..<count]
                        if output.count > outputLimit { return false }
                    } else if error.count < errorLimit {
                        error += buffer[..<min(count, errorLimit - error.count)]
                    }
                    continue
                }
                if count < 0, errno == EINTR { continue }
                if count < 0, errno == EAGAIN || errno == EWOULDBLOCK { return true }
                // End of file, or a read error, which ends the pipe the same way.
                close(readEnds[index])
                readEnds[index] = -1
            }
            return true
        }

        loop: while termination == nil {
            if let status = reap(pid, blocking: false) {
                // Everything the child wrote before it exited is in the pipes
                // now, at most their capacity; a grandchild may write on, so
                // only that much is read. The group is not killed: once the
                // child is reaped, its process ID may be someone else's.
                termination = drain(0, budget: Self.finalReadLimit) ? status : .outputTooLarge
                _ = drain(1, budget: Self.finalReadLimit)
                break
            }
            // Once both pipes have ended, the child is about to be reaped: look again soon.
            var wait = readEnds.allSatisfy { $0 < 0 } ? 5 : Self.checkInterval
            if let deadline {
                let left = deadline - ContinuousClock.now
                if left <= .zero {
                    killGroup(pid)
                    _ = reap(pid, blocking: true)
                    termination = .timedOut
                    break
                }
                wait = min(wait, Int(left.components.seconds) * 1000 + Int(left.components.attoseconds / 1_000_000_000_000_000) + 1)
            }
            var descriptors = readEnds.filter { $0 >= 0 }.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            if poll(&descriptors, nfds_t(descriptors.count), Int32(wait)) < 0, errno != EINTR { break }
            for index in readEnds.indices where !drain(index) {
                killGroup(pid)
                _ = reap(pid, blocking: true)
                termination = .outputTooLarge
                break loop
            }
        }
        if termination == nil {
            // poll itself failed: do not leave the child running or unreaped.
            killGroup(pid)
            termination = reap(pid, blocking: true) ?? .signalled(SIGKILL)
        }
        return ProgramRun(termination: termination ?? .signalled(SIGKILL), standardOutput: output, standardError: error)
    }

    /// Held while descriptors are made that are not yet close-on-exec, and while a child is spawned.
    private static let spawning = Mutex(())

    /// The `errno` of a failed spawn.
    private struct SpawnCode: Error {
        var code: Int32
        init(_ code: Int32) { self.code = code }
    }

    /// Starts the child in a new process group, with default signal dispositions and an empty mask.
    ///
    /// - Returns: The child's process ID, or the `errno` of the failure.
    private static func spawn(_ program: String, arguments: [String], input: Int32, output: Int32,
                              error: Int32) -> Result<pid_t, SpawnCode> {
        var actions = posix_spawn_file_actions_t()
        var attributes = posix_spawnattr_t()
        guard posix_spawn_file_actions_init(&actions) == 0 else { return .failure(SpawnCode(ENOMEM)) }
        defer { posix_spawn_file_actions_destroy(&actions) }
        guard posix_spawnattr_init(&attributes) == 0 else { return .failure(SpawnCode(ENOMEM)) }
        defer { posix_spawnattr_destroy(&attributes) }

        // dup2 clears close-on-exec on the copies, and only on them.
        for (descriptor, target) in [(input, STDIN_FILENO), (output, STDOUT_FILENO), (error, STDERR_FILENO)] {
            let result = posix_spawn_file_actions_adddup2(&actions, descriptor, target)
            guard result == 0 else { return .failure(SpawnCode(result)) }
        }
        var defaults = sigset_t(), mask = sigset_t()
        sigfillset(&defaults)
        sigemptyset(&mask)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setsigmask(&attributes, &mask)
        posix_spawnattr_setpgroup(&attributes, 0)
        let flags = POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK
        posix_spawnattr_setflags(&attributes, Int16(flags))

        var argv: [UnsafeMutablePointer<CChar>?] = ([program] + arguments).map { strdup($0) }
        argv.append(nil)
        defer { for pointer in argv { free(pointer) } }
        guard !argv.dropLast().contains(where: { $0 == nil }) else { return .failure(SpawnCode(ENOMEM)) }

        var pid: pid_t = 0
        let result = posix_spawnp(&pid, program, &actions, &attributes, argv, environ)
        return result == 0 ? .success(pid) : .failure(SpawnCode(result))
    }

    /// Waits for `pid` (only it: other threads' children are theirs to reap).
    ///
    /// - Parameter blocking: Wait until it ends, rather than look once.
    /// - Returns: How it ended, or nil when it is still running.
    private static func reap(_ pid: pid_t, blocking: Bool) -> ProgramRun.Termination? {
        var status: Int32 = 0
        while true {
            let result = waitpid(pid, &status, blocking ? 0 : WNOHANG)
            if result == 0 { return nil }
            if result < 0 {
                if errno == EINTR { continue }
                // ECHILD: nothing left to reap (it cannot happen for our own child).
                return .signalled(SIGKILL)
            }
            // WIFEXITED and WTERMSIG are C macros; these are their definitions.
            let signal = status & 0x7F
            return signal == 0 ? .exited((status >> 8) & 0xFF) : .signalled(signal)
        }
    }

    /// Kills the child's process group, the child first among them. Its
    /// process ID stays reserved until it is reaped, so the group cannot
    /// be someone else's.
    private static func killGroup(_ pid: pid_t) {
        kill(-pid, SIGKILL)
        kill(pid, SIGKILL)
    }
}
