import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// How `CPUMap.collect(_:settings:progress:)` reaches hosts and where it writes.
public struct CollectionSettings: Hashable, Sendable {
    /// The folder the files are written to; it must exist.
    public var folder: String
    /// The ssh program, looked up in `PATH`: the user's own OpenSSH, with
    /// their `~/.ssh/config`, agent, jump hosts and known_hosts.
    public var ssh: String = "ssh"
    /// Values passed to ssh as `-o VALUE` each (`Port=2222`, `User=admin`).
    public var sshOptions: [String] = []
    /// A configuration file passed to ssh as `-F FILE` instead of `~/.ssh/config`.
    public var sshConfigFile: String?
    /// The virsh command run on each host: a name the remote shell finds, or a path.
    public var virsh: String = "virsh"
    /// The libvirt URI passed to virsh as `-c URI`; nil for virsh's default.
    public var connectURI: String?
    /// Whether `virsh domcapabilities` is collected too.
    public var domainCapabilities: Bool = true
    /// The time a host has for everything collected from it.
    public var timeout: Duration = .seconds(60)
    /// How many hosts are collected at once.
    public var jobs: Int = 8

    /// Settings that write into `folder`, with the defaults above.
    ///
    /// - Parameter folder: The folder the files are written to.
    public init(folder: String) {
        self.folder = folder
    }
}

/// One file written for a host, with what cpucompat's reader made of it.
public struct CollectedFile: Hashable, Sendable, Codable {
    /// Which virsh command printed the file.
    public enum Kind: String, Hashable, Sendable, Codable {
        /// `virsh capabilities`, saved as `HOST.xml`.
        case capabilities
        /// `virsh domcapabilities`, saved as `HOST-domcaps.xml`.
        case domainCapabilities

        /// The virsh command.
        public var command: String { self == .capabilities ? "capabilities" : "domcapabilities" }
        /// What follows the host's name in the file's name.
        public var suffix: String { self == .capabilities ? ".xml" : "-domcaps.xml" }
    }

    /// Which virsh command printed the file.
    public var kind: Kind
    /// Where it was written.
    public var path: String
    /// Its size: exactly the bytes virsh printed.
    public var byteCount: Int
    /// The CPU's architecture, as the file names it (`x86_64`).
    public var architecture: String?
    /// The CPU's model, if it names one.
    public var model: String?
    /// The CPU's vendor, else its model's vendor, if either is known.
    public var vendor: String?
    /// How many CPU features the reader found the CPU to have.
    public var featureCount: Int
}

/// What became of one host.
public struct HostCollection: Hashable, Sendable, Codable {
    /// The host as given: an ssh destination, or `-` for this machine.
    public var host: String
    /// The name its files are named after: the host, or this machine's host name for `-`.
    public var name: String
    /// The files written, in the order collected; empty when the host failed.
    public var files: [CollectedFile]
    /// Why nothing was written for the host, or nil when it succeeded.
    public var failure: String?
}

/// What `CPUMap.collect(_:settings:progress:)` did, host by host in the order given.
public struct CollectionReport: Hashable, Sendable, Codable {
    /// The folder written to.
    public var folder: String
    /// Every host, in the order given.
    public var hosts: [HostCollection]
    /// How many hosts were collected.
    public var collected: Int
    /// How many hosts failed.
    public var failed: Int

    /// A report of `hosts`, written to `folder`.
    ///
    /// - Parameters:
    ///   - folder: The folder written to.
    ///   - hosts: Every host, in the order given.
    public init(folder: String, hosts: [HostCollection]) {
        self.folder = folder
        self.hosts = hosts
        failed = hosts.count { $0.failure != nil }
        collected = hosts.count - failed
    }
}

/// Reads the hosts to collect and checks their names.
public enum HostList {
    /// The host that stands for this machine, collected without ssh.
    public static let local = "-"

    /// The hosts of a list file: one a line; blanks around a name, blank
    /// lines and lines starting with `#` are ignored.
    ///
    /// - Parameters:
    ///   - bytes: The file's content.
    ///   - path: The name errors give the file.
    /// - Returns: The hosts in file order.
    /// - Throws: `CPUCompatError.invalidHost` naming the line of a name that
    ///   cannot be a host (see `problem(with:)`), or `.unreadable` when the
    ///   file is not UTF-8.
    public static func parse(_ bytes: [UInt8], path: String) throws(CPUCompatError) -> [String] {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw .unreadable(path: path, reason: "is not UTF-8 text")
        }
        var hosts: [String] = []
        // "\r\n" is one Character, so line ends are matched as both.
        for (index, line) in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).enumerated() {
            let name = line.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" || $0 == "\r" }
            let host = String(name.reversed())
            if host.isEmpty || host.hasPrefix("#") { continue }
            if let problem = problem(with: host) {
                throw .invalidHost(name: host, path: path, line: index + 1, reason: problem)
            }
            hosts.append(host)
        }
        return hosts
    }

    /// Why `host` cannot be collected, or nil when it can. Its files are
    /// named after it, so it must be a plain file name: not empty, no `/`,
    /// not starting with `.` (`..` would leave the folder; a hidden file
    /// would be missed), no control characters. A name starting with `-`
    /// is fine: it is passed to ssh after `--`, never as an option.
    ///
    /// - Parameter host: An ssh destination, or `-`.
    /// - Returns: The reason, or nil.
    public static func problem(with host: String) -> String? {
        if host == local { return nil }
        if host.isEmpty { return "is empty" }
        if host.contains("/") { return "holds a /, and the host's files are named after it" }
        if host.hasPrefix(".") { return "starts with a dot, and the host's files are named after it" }
        if host.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F || (0x80...0x9F).contains($0.value) }) {
            return "holds a control character"
        }
        if host.utf8.count > 240 { return "is longer than 240 bytes, and the host's files are named after it" }
        return nil
    }

    /// Checks `hosts`: each must be a possible host, and none given twice
    /// (both runs would write the same files).
    ///
    /// - Parameter hosts: The hosts, as given.
    /// - Throws: `CPUCompatError.invalidHost` for the first that is not.
    public static func check(_ hosts: [String]) throws(CPUCompatError) {
        var seen = Set<String>()
        var files = Set<String>()
        for host in hosts {
            if let problem = problem(with: host) { throw .invalidHost(name: host, path: nil, line: nil, reason: problem) }
            let name = try fileName(for: host)
            guard seen.insert(name).inserted else {
                throw .invalidHost(name: host, path: nil, line: nil,
                                   reason: host == local ? "is this machine, which is already in the list" : "is given twice")
            }
            // `a-domcaps` and `a` would both write a-domcaps.xml.
            for file in [name + ".xml", name + "-domcaps.xml"] where !files.insert(file).inserted {
                throw .invalidHost(name: host, path: nil, line: nil, reason: "would write \(file), which another host's files include")
            }
        }
    }

    /// The name `host`'s files are named after: this machine's host name for `-`.
    ///
    /// - Throws: `CPUCompatError.invalidHost` when this machine's host name cannot name a file.
    static func fileName(for host: String) throws(CPUCompatError) -> String {
        guard host == local else { return host }
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else {
            throw .invalidHost(name: host, path: nil, line: nil, reason: "this machine's host name is unknown: \(FileSystem.describe(errno))")
        }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if name == local || problem(with: name) != nil {
            throw .invalidHost(name: host, path: nil, line: nil, reason: "this machine's host name (\(name)) cannot name a file")
        }
        return name
    }
}

extension CPUMap {
    /// Collects `virsh capabilities` (and `virsh domcapabilities`) of each
    /// host over ssh, or of this machine for `-`, checks each with this map's
    /// reader and writes it to `settings.folder` as `HOST.xml` (and
    /// `HOST-domcaps.xml`).
    ///
    /// Up to `settings.jobs` hosts are collected at once, each on its own
    /// thread. ssh runs with `BatchMode=yes`, so it never asks for a password
    /// or a passphrase (it fails instead), and without a terminal, so the
    /// bytes are exactly virsh's. A host's files are written (atomically,
    /// each through a temporary file and a rename) only once everything asked
    /// of it was printed within the time limit and read as it must be: a
    /// capabilities file as one host CPU, a domcapabilities file as one
    /// host-model CPU. A host that fails before then gets no new file, and
    /// its old files stay as they were; should writing its second file fail,
    /// its first is already written, and the failure says which.
    ///
    /// - Parameters:
    ///   - hosts: ssh destinations (`kvm02`, `admin@kvm03`), or `-`.
    ///   - settings: How to reach them and where to write.
    ///   - progress: Called after each host, from the thread that did it,
    ///     with the hosts done, those that failed, and the total.
    /// - Returns: Every host's result, in the order given.
    /// - Throws: `CPUCompatError` before any host is contacted: a host that
    ///   cannot be one (`HostList.check`), a folder that is missing or not writable.
    public func collect(_ hosts: [String], settings: CollectionSettings,
                        progress: (@Sendable (_ done: Int, _ failed: Int, _ total: Int) -> Void)? = nil)
        throws(CPUCompatError) -> CollectionReport {
        try HostList.check(hosts)
        guard FileSystem.isDirectory(settings.folder) else {
            throw .unwritable(path: settings.folder, reason: FileSystem.exists(settings.folder) ? "is not a folder" : "no such folder")
        }
        guard access(settings.folder, W_OK | X_OK) == 0 else {
            throw .unwritable(path: settings.folder, reason: FileSystem.describe(errno))
        }
        var names: [String] = []
        for host in hosts { names.append(try HostList.fileName(for: host)) }

        let results = Shared<(slots: [HostCollection?], done: Int, failed: Int)>((Array(repeating: nil, count: hosts.count), 0, 0))
        let map = self
        let frozenNames = names
        ParallelWork.run(count: hosts.count, width: settings.jobs) { index in
            let result = map.collectHost(hosts[index], name: frozenNames[index], settings: settings)
            let (done, failed) = results.value.withLock { state in
                state.slots[index] = result
                state.done += 1
                if result.failure != nil { state.failed += 1 }
                return (state.done, state.failed)
            }
            progress?(done, failed, hosts.count)
        }
        let collected = results.value.withLock { $0.slots }.enumerated().map { index, slot in
            slot ?? HostCollection(host: hosts[index], name: names[index], files: [], failure: "was not collected")
        }
        return CollectionReport(folder: settings.folder, hosts: collected)
    }

    /// Checks that `bytes`, printed by `virsh capabilities` or `virsh
    /// domcapabilities`, is what that command prints and that this map can
    /// read it: one host CPU, or one host-model CPU.
    ///
    /// - Parameters:
    ///   - bytes: The output.
    ///   - kind: The command that printed it.
    ///   - path: The name errors give it.
    /// - Returns: The CPU the reader made of it.
    /// - Throws: The reader's `CPUCompatError`, or `.invalidCPU` when the
    ///   output is another kind of document or holds several CPUs.
    public func checkCollected(_ bytes: [UInt8], as kind: CollectedFile.Kind, path: String) throws(CPUCompatError) -> CPU {
        let definitions = try CPUDefinitionReader.read(bytes, path: path)
        let expected: CPUDefinition.Source = kind == .capabilities ? .capabilities : .domainCapabilities
        for definition in definitions where definition.source != expected {
            throw .invalidCPU(path: path, line: definition.line,
                              message: "holds a \(definition.source.rawValue) CPU where virsh \(kind.command) prints a \(expected.rawValue) one")
        }
        var cpus: [CPU] = []
        for definition in definitions { cpus.append(try resolve(definition)) }
        return try Self.single(cpus, path: path)
    }

    /// One host, start to end; never throws: what goes wrong is its failure.
    private func collectHost(_ host: String, name: String, settings: CollectionSettings) -> HostCollection {
        let deadline = ContinuousClock.now + settings.timeout
        let kinds: [CollectedFile.Kind] = settings.domainCapabilities ? [.capabilities, .domainCapabilities] : [.capabilities]
        var fetched: [(kind: CollectedFile.Kind, bytes: [UInt8], cpu: CPU)] = []
        let failed = { (reason: String) in HostCollection(host: host, name: name, files: [], failure: reason) }
        for kind in kinds {
            let left = deadline - ContinuousClock.now
            let (program, arguments) = VirshInvocation.command(kind, host: host, settings: settings)
            let run: ProgramRun
            do {
                run = try Subprocess.run(program, arguments: arguments, timeout: max(left, .zero))
            } catch {
                return failed("cannot run \(program): \(error.reason)")
            }
            if let problem = VirshInvocation.problem(with: run, kind: kind, host: host, settings: settings) {
                return failed(problem)
            }
            do {
                let cpu = try checkCollected(run.standardOutput, as: kind, path: "virsh \(kind.command)")
                fetched.append((kind, run.standardOutput, cpu))
            } catch {
                return failed("cpucompat cannot read what virsh \(kind.command) printed: \(error.description)")
            }
        }
        var files: [CollectedFile] = []
        for (kind, bytes, cpu) in fetched {
            let path = FileSystem.join(settings.folder, name + kind.suffix)
            do {
                try SafeFileUpdate.write(bytes, to: path)
            } catch {
                return HostCollection(host: host, name: name, files: files, failure: "cannot write: \(error.description)")
            }
            files.append(CollectedFile(kind: kind, path: path, byteCount: bytes.count, architecture: cpu.definition.arch,
                                       model: cpu.model?.name, vendor: cpu.vendor?.name ?? cpu.model?.vendor,
                                       featureCount: cpu.features.count))
        }
        return HostCollection(host: host, name: name, files: files, failure: nil)
    }
}

/// The command lines that run virsh on a host, and what their failures mean.
enum VirshInvocation {
    /// ssh's own exit status for its failures (connection, authentication, host key).
    static let sshFailure: Int32 = 255

    /// The program and arguments that run `virsh KIND` for `host`.
    ///
    /// ssh gets `BatchMode=yes` first (the first value ssh obtains for an
    /// option wins, so no option or configuration can turn prompts back on),
    /// `-T` (no terminal, which would turn line ends into CR LF), `-a -x`
    /// (virsh needs neither the agent nor X11 forwarded, and a host should
    /// not get them), then the user's options, then `LogLevel=ERROR` (no
    /// banner or "Permanently added" notice among the errors) and
    /// `ConnectTimeout` of the time limit plus 10 s (an ssh that outlives
    /// cpucompat, killed by Ctrl-C, still gives up), unless the user's options say
    /// otherwise, then `--` and the host, so that no host
    /// name can be taken for an option. The remote command is one string
    /// for the remote shell, each word single-quoted.
    static func command(_ kind: CollectedFile.Kind, host: String, settings: CollectionSettings) -> (String, [String]) {
        let virsh = [settings.virsh] + (settings.connectURI.map { ["-c", $0] } ?? []) + [kind.command]
        guard host != HostList.local else { return (settings.virsh, Array(virsh.dropFirst())) }
        var arguments = ["-o", "BatchMode=yes", "-T", "-a", "-x"]
        if let file = settings.sshConfigFile { arguments += ["-F", file] }
        for option in settings.sshOptions { arguments += ["-o", option] }
        // Beyond the time limit, so that cpucompat's own limit (and message) comes first.
        let seconds = settings.timeout.components.seconds + 10
        arguments += ["-o", "LogLevel=ERROR", "-o", "ConnectTimeout=\(seconds)", "--", host,
                      virsh.map(shellQuoted).joined(separator: " ")]
        return (settings.ssh, arguments)
    }

    /// `word` as one word for a POSIX shell: in single quotes, each `'` as `'\''`.
    static func shellQuoted(_ word: String) -> String {
        "'" + word.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'"
    }

    /// What went wrong with `run`, or nil when virsh printed its output and exited 0.
    static func problem(with run: ProgramRun, kind: CollectedFile.Kind, host: String, settings: CollectionSettings) -> String? {
        let remote = host != HostList.local
        let what = "virsh \(kind.command)"
        switch run.termination {
        case .exited(0):
            return nil
        case .timedOut:
            return "timed out after \(Self.seconds(settings.timeout)) (--timeout)\(remote ? "" : " running \(what)")"
        case .outputTooLarge:
            return "\(what) printed more than \(FileSystem.maximumFileSize >> 20) MiB"
        case let .signalled(signal):
            return "\(remote ? settings.ssh : what) was killed by signal \(signal)"
        case let .exited(status) where remote && status == sshFailure:
            return "ssh failed: " + (lastLines(of: run.standardError, count: 1) ?? "exit status 255, and no message")
        case let .exited(status):
            var reason = "\(what) failed\(remote ? " on the host" : "") (exit status \(status))"
            if let message = lastLines(of: run.standardError, count: 3) { reason += ": " + message }
            if remote, status == 127 || status == 126 {
                reason += " (is libvirt-clients installed there? --virsh names the command)"
            }
            if kind == .domainCapabilities { reason += " (--no-domcaps collects the capabilities alone)" }
            return reason
        }
    }

    /// The last `count` non-blank lines of `bytes`, joined with `; `, or nil when there are none.
    static func lastLines(of bytes: [UInt8], count: Int) -> String? {
        let lines = String(decoding: bytes, as: UTF8.self).split(whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" })
            .map { $0.drop { $0 == " " || $0 == "\t" } }.filter { !$0.isEmpty }
        return lines.isEmpty ? nil : lines.suffix(count).joined(separator: "; ")
    }

    /// `duration` in whole seconds (or milliseconds below one), as help speaks of it.
    static func seconds(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        if seconds == 0 { return "\(attoseconds / 1_000_000_000_000_000) ms" }
        return "\(seconds) s"
    }
}

/// Runs work items on threads of their own: host collection blocks on ssh
/// for seconds, which would stall Dispatch's or Swift concurrency's few
/// threads (one per core).
enum ParallelWork {
    /// Runs `body(0)` … `body(count - 1)` on up to `width` threads, and returns when all are done.
    static func run(count: Int, width: Int, _ body: @escaping @Sendable (Int) -> Void) {
        let next = Shared(0)
        let work: @Sendable () -> Void = {
            while true {
                let index = next.value.withLock { index in
                    defer { index += 1 }
                    return index
                }
                if index >= count { return }
                body(index)
            }
        }
        var threads: [pthread_t] = []
        for _ in 0..<max(1, min(width, count)) - 1 {
            let box = Unmanaged.passRetained(ThreadBody(work)).toOpaque()
            var thread = pthread_t()
            let started = pthread_create(&thread, nil, { raw in
                guard let raw else { return nil }
                Unmanaged<ThreadBody>.fromOpaque(raw).takeRetainedValue().body()
                return nil
            }, box)
            if started == 0 {
                threads.append(thread)
            } else {
                // No thread: the calling thread does its share instead.
                Unmanaged<ThreadBody>.fromOpaque(box).release()
            }
        }
        work()
        for thread in threads { pthread_join(thread, nil) }
    }

    /// A closure to hand to a new thread through a raw pointer.
    private final class ThreadBody: Sendable {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
}

/// A value behind a lock, shared by reference between threads.
final class Shared<Value: Sendable>: Sendable {
    let value: Mutex<Value>
    init(_ initial: Value) { value = Mutex(initial) }
}

extension HostCollection {
    /// How reports name the host: as given, or `this machine (NAME)` for `-`.
    public var displayName: String { host == HostList.local ? "this machine (\(name))" : host }

    /// The report line: the files written and what the reader made of each,
    /// or the failure.
    public var line: String {
        if let failure { return "\(displayName): \(failure)" }
        let described = files.map { file in
            "\(file.path) (\(file.architecture ?? "no architecture"), \(file.model ?? "no model"), "
                + "\(file.vendor ?? "no vendor"), \(file.featureCount) feature\(file.featureCount == 1 ? "" : "s"))"
        }
        return "\(displayName): " + described.joined(separator: ", ")
    }
}
