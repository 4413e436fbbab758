/// One run of `cpucompat patch`, from files to files: read the hosts (or a
/// baseline), plan the guest's `<cpu>`, patch the domain, and write the
/// result where it goes. The CLI only parses options and prints.
public struct DomainPatchJob: Hashable, Sendable {
    /// What the guest must run on.
    public enum Target: Hashable, Sendable {
        /// Every host in these files or folders, with this strategy.
        case hosts([String], strategy: PatchStrategy)
        /// The `<cpu>` in this file, a baseline from `cpucompat baseline` or `virsh cpu-baseline`.
        case baseline(String)
        /// This plan, made with this architecture (`guestPlan(for:strategy:)`):
        /// for patching many domains for the same hosts, which are read once.
        case plan(GuestCPUPlan, CPUArchitecture)
    }

    /// Where the patched domain goes.
    public enum Destination: Hashable, Sendable {
        /// Nowhere: the caller takes it from the result.
        case result
        /// To this file, replaced atomically (a FIFO or device is written through).
        case file(String)
        /// Back to the domain file, atomically, keeping the previous content
        /// as the domain's name followed by the suffix, if one is given.
        case inPlace(backupSuffix: String?)
    }

    /// The domain XML file, or `-` for standard input (not with `.inPlace`).
    public var domain: String
    /// What the guest must run on.
    public var target: Target
    /// Where the result goes.
    public var destination: Destination
    /// Whether a symbolic link as the written file is followed to its target instead of refused.
    public var followSymlinks: Bool

    /// A job.
    ///
    /// - Parameters:
    ///   - domain: The domain XML file, or `-` for standard input.
    ///   - target: The hosts or the baseline the guest must run on.
    ///   - destination: Where the result goes.
    ///   - followSymlinks: Write through a symbolic link instead of refusing it.
    public init(domain: String, target: Target, destination: Destination = .result, followSymlinks: Bool = false) {
        self.domain = domain
        self.target = target
        self.destination = destination
        self.followSymlinks = followSymlinks
    }

    /// What a run did.
    public struct Outcome: Hashable, Sendable {
        /// The domain's bytes before.
        public var original: [UInt8]
        /// The domain's bytes after.
        public var patched: [UInt8]
        /// The plan the new `<cpu>` was written from.
        public var plan: GuestCPUPlan
        /// What the user should know: what the plan left out, how existing
        /// features were merged, what the file update could not keep.
        public var notes: [String]
    }

    /// Runs the job with `map`.
    ///
    /// - Parameter map: The CPU map the hosts' and the domain's names are read with.
    /// - Returns: The bytes before and after, the plan and the notes.
    /// - Throws: `CPUCompatError` naming the file at fault; the domain file is
    ///   then unchanged, and so is a `.file` destination.
    public func run(with map: CPUMap) throws(CPUCompatError) -> Outcome {
        switch destination {
        case .inPlace where domain == "-":
            throw .unwritable(path: domain, reason: "standard input cannot be patched in place")
        case .file("-"):
            throw .unwritable(path: "-", reason: "is standard output: take the result from the outcome (destination .result)")
        default:
            break
        }
        let plan: GuestCPUPlan
        let architecture: CPUArchitecture
        switch target {
        case let .baseline(path):
            let cpu = try map.readSingleCPU(contentsOf: path)
            architecture = try map.x86Architecture(for: [cpu])
            plan = try architecture.guestPlan(fromBaseline: cpu)
        case let .plan(given, givenArchitecture):
            plan = given
            architecture = givenArchitecture
        case let .hosts(paths, strategy):
            let cpus = try map.readHosts(paths)
            architecture = try map.x86Architecture(for: cpus)
            plan = try architecture.guestPlan(for: cpus, strategy: strategy)
        }
        var notes: [String] = []
        let patch = { (bytes: [UInt8]) throws(CPUCompatError) -> [UInt8] in
            let result = try DomainPatcher.patch(bytes, path: domain, plan: plan, architecture: architecture)
            notes = result.notes
            return result.patched
        }
        switch destination {
        case let .inPlace(backupSuffix):
            let update = try SafeFileUpdate.update(domain, followSymlinks: followSymlinks, backupSuffix: backupSuffix, transform: patch)
            return Outcome(original: update.old, patched: update.new, plan: plan, notes: notes + update.notes)
        case .result, .file:
            let original = try FileSystem.read(domain)
            let patched = try patch(original)
            if case let .file(path) = destination { try SafeFileUpdate.write(patched, to: path, followSymlinks: followSymlinks) }
            return Outcome(original: original, patched: patched, plan: plan, notes: notes)
        }
    }
}
