/// Where one guest can start, and where it can live-migrate, across a fleet
/// of hosts: the answer of `cpucompat guests` for one domain.
///
/// A guest with a CPU of its own (`custom` mode, or a running guest's
/// expanded `host-model`, which names a model) presents the same CPU
/// everywhere: it can migrate to exactly the hosts it can start on. A guest
/// that takes its CPU from the host it starts on (`host-model`,
/// `host-passthrough`, `maximum` without a model) starts anywhere, and where
/// it can migrate depends on that host: the placement then says so for the
/// host it runs on, if known, or else for every host it could start on.
public struct GuestPlacement: Hashable, Sendable, Codable {
    /// Hosts that refuse the guest for the same reason.
    public struct Refusal: Hashable, Sendable, Codable {
        /// The hosts.
        public var hosts: [String]
        /// Features the guest needs that these hosts lack, in libvirt's order.
        public var missingFeatures: [String]
        /// Features the guest forbids that these hosts have, in libvirt's order.
        public var extraFeatures: [String]
        /// libvirt's sentence (`guest CPU doesn't match specification: …`).
        public var message: String
    }

    /// Where the guest can go when it runs on `from`.
    public struct Migration: Hashable, Sendable, Codable {
        /// Hosts with identical CPU features the guest may be running on.
        public var from: [String]
        /// The hosts it can migrate to.
        public var to: [String]
        /// The hosts it cannot migrate to, grouped by reason.
        public var blocked: [Refusal]
    }

    /// The domain file.
    public var guest: String
    /// The guest's CPU mode as written (`custom`, `host-model`,
    /// `host-passthrough`, `maximum`), or `none` for a domain without `<cpu>`.
    public var mode: String
    /// The guest's model, if its CPU names one.
    public var model: String?
    /// What the guest's CPU was taken to be, where the domain does not say
    /// it in full (a domain without `<cpu>`).
    public var note: String?
    /// The hosts it can start on.
    public var startsOn: [String]
    /// The hosts it cannot start on, grouped by reason.
    public var cannotStart: [Refusal]
    /// The host it runs on, when it takes its CPU from that host and the
    /// caller named it.
    public var runningOn: String?
    /// For a guest that takes its CPU from its host: where it can migrate,
    /// from the host it runs on or, when that is not known, from each group
    /// of identical hosts it could start on. Empty for a guest with a CPU of
    /// its own, which can migrate wherever it can start.
    public var migrations: [Migration]
    /// Whether the guest can start on every host and migrate from where it
    /// runs (or from wherever it starts) to every other.
    public var canGoEverywhere: Bool
    /// The `<cpu>` that would let it go everywhere, for a guest that cannot.
    public var fix: GuestCPUPlan?
}

/// The placements of a set of guests over one fleet, with the `<cpu>` that
/// would let every guest go everywhere.
public struct GuestFleetReport: Hashable, Sendable, Codable {
    /// The hosts, as named in the placements.
    public var hosts: [String]
    /// One placement per guest, in the order the guests were given.
    public var guests: [GuestPlacement]
    /// How the fix was chosen (`model` or `disable`).
    public var strategy: PatchStrategy
    /// Whether every guest can go everywhere.
    public var everyGuestCanGoEverywhere: Bool
}

extension CPUArchitecture {
    /// Places every guest on the fleet.
    ///
    /// - Parameters:
    ///   - guests: The guests' CPUs (``CPUMap/readGuestCPU(contentsOf:)``).
    ///   - hosts: The hosts they must run on.
    ///   - runningOn: The host the guests that take their CPU from their
    ///     host run on, when known; it need not be one of `hosts`.
    ///   - strategy: How the fix for a guest that cannot go everywhere is chosen.
    /// - Returns: One placement per guest.
    /// - Throws: `CPUCompatError.incompatible` when some guest needs a fix
    ///   and the hosts have no common model to give it.
    public func placements(of guests: [GuestCPU], on hosts: [CPU], runningOn: CPU? = nil,
                           strategy: PatchStrategy) throws(CPUCompatError) -> GuestFleetReport {
        let names = Self.hostNames(hosts)
        let runningOnName = runningOn.map { host in
            hosts.firstIndex(of: host).map { names[$0] } ?? host.definition.path
        }
        // Hosts with identical features answer alike: a fleet of thousands is a few groups.
        var groups: [(features: FeatureSet, vendor: String?, members: [Int])] = []
        var groupOfFeatures: [FeatureSet: [Int]] = [:]
        for (index, host) in hosts.enumerated() {
            let vendor = host.vendor?.name
            if let candidates = groupOfFeatures[host.features],
               let group = candidates.first(where: { groups[$0].vendor == vendor }) {
                groups[group].members.append(index)
            } else {
                groupOfFeatures[host.features, default: []].append(groups.count)
                groups.append((host.features, vendor, [index]))
            }
        }
        var fix: GuestCPUPlan?
        var placements: [GuestPlacement] = []
        for guest in guests {
            let cpu = guest.cpu
            // One comparison per group; its first member stands for the others.
            func verdicts(startedOn source: CPU?) -> (can: [Int], cannot: [GuestPlacement.Refusal]) {
                var can: [Int] = []
                var refused: [(comparison: CPUComparison, members: [Int])] = []
                for group in groups {
                    let host = hosts[group.members[0]]
                    let comparison = compare(guest: cpu, host: host, startedOn: source ?? host)
                    if comparison.isRunnable {
                        can += group.members
                    } else if let same = refused.firstIndex(where: {
                        $0.comparison.missingFeatures == comparison.missingFeatures
                            && $0.comparison.extraFeatures == comparison.extraFeatures && $0.comparison.message == comparison.message
                    }) {
                        refused[same].members += group.members
                    } else {
                        refused.append((comparison, group.members))
                    }
                }
                return (can.sorted(), refused.map { entry in
                    GuestPlacement.Refusal(hosts: entry.members.sorted().map { names[$0] }, missingFeatures: entry.comparison.missingFeatures,
                            extraFeatures: entry.comparison.extraFeatures, message: entry.comparison.message ?? "")
                })
            }
            // libvirt checks no CPU for a domain without <cpu>, and QEMU leaves out what the host lacks.
            let start = guest.hasCPUElement ? verdicts(startedOn: nil) : (can: Array(hosts.indices), cannot: [])
            var migrations: [GuestPlacement.Migration] = []
            if cpu.takesItsCPUFromTheHost {
                if let runningOn, let runningOnName {
                    let moves = verdicts(startedOn: runningOn)
                    migrations.append(GuestPlacement.Migration(from: [runningOnName], to: moves.can.map { names[$0] }, blocked: moves.cannot))
                } else {
                    for group in groups {
                        let moves = verdicts(startedOn: hosts[group.members[0]])
                        migrations.append(GuestPlacement.Migration(from: group.members.map { names[$0] }, to: moves.can.map { names[$0] },
                                                    blocked: moves.cannot))
                    }
                }
            }
            let canGoEverywhere = start.cannot.isEmpty && migrations.allSatisfy(\.blocked.isEmpty)
            if !canGoEverywhere, fix == nil { fix = try guestPlan(for: hosts, strategy: strategy) }
            placements.append(GuestPlacement(
                guest: cpu.definition.path, mode: guest.hasCPUElement ? (cpu.definition.mode ?? "custom") : "none",
                model: guest.hasCPUElement ? cpu.model?.name : nil, note: guest.note, startsOn: start.can.map { names[$0] }, cannotStart: start.cannot,
                runningOn: cpu.takesItsCPUFromTheHost ? runningOnName : nil, migrations: migrations,
                canGoEverywhere: canGoEverywhere, fix: canGoEverywhere ? nil : fix))
        }
        return GuestFleetReport(hosts: names, guests: placements, strategy: strategy,
                                everyGuestCanGoEverywhere: placements.allSatisfy(\.canGoEverywhere))
    }

    /// Each host's name: its file, followed by `:LINE` where a file holds several hosts.
    static func hostNames(_ hosts: [CPU]) -> [String] {
        var count: [String: Int] = [:]
        for host in hosts { count[host.definition.path, default: 0] += 1 }
        return hosts.map { count[$0.definition.path, default: 0] > 1 ? $0.location : $0.definition.path }
    }
}

/// A guest's CPU as a domain file gives it.
public struct GuestCPU: Hashable, Sendable {
    /// The CPU, resolved against the map. For a domain without `<cpu>`, the
    /// model QEMU gives such a guest, which is not compared (see ``note``).
    public var cpu: CPU
    /// Whether the domain's `<cpu>` names a CPU: a model, features, or a
    /// mode other than custom (false without `<cpu>`, or with one of topology only).
    public var hasCPUElement: Bool
    /// What the CPU was taken to be, where the domain does not say it.
    public var note: String?
}

extension CPUMap {
    /// The model QEMU runs an x86-64 guest with when its domain has no `<cpu>`.
    static let defaultGuestModel = "qemu64"

    /// Reads the CPU of the domain (guest) definition at `path`.
    ///
    /// A domain without `<cpu>` runs QEMU's default CPU model for x86-64,
    /// `qemu64`, less the features the host lacks (QEMU drops them without
    /// `check='full'`, and libvirt checks nothing): it is read as that model,
    /// placed on every host, and the note says so.
    ///
    /// - Parameter path: A domain XML file (inactive, or the live XML of a
    ///   running guest), or `-` for standard input.
    /// - Returns: The guest's CPU.
    /// - Throws: `CPUCompatError` naming the file: unreadable, malformed,
    ///   not a domain, or naming what the map lacks.
    public func readGuestCPU(contentsOf path: String) throws(CPUCompatError) -> GuestCPU {
        let read = try CPUDefinitionReader.readDomain(contentsOf: path)
        // A <cpu> of topology only (no model, no features, custom mode) names no CPU either.
        if let definition = read.cpu,
           definition.model != nil || !definition.features.isEmpty || (definition.mode ?? "custom") != "custom" {
            return GuestCPU(cpu: try resolve(definition), hasCPUElement: true, note: nil)
        }
        let definition = CPUDefinition(path: path, line: read.line, source: .domain, arch: "x86_64", mode: "custom",
                                       model: Self.defaultGuestModel)
        return GuestCPU(cpu: try resolve(definition), hasCPUElement: false,
                        note: (read.cpu == nil ? "no <cpu>" : "no CPU model in <cpu>")
                            + ": libvirt checks no CPU, and QEMU runs it as \(Self.defaultGuestModel) less the features "
                            + "the host lacks (svm on Intel), so it starts anywhere and its CPU is not compared")
    }
}

extension CPUMap {
    /// Reads the guests named by `paths`: domain files, or folders whose
    /// `*.xml` files are read in name order (`/etc/libvirt/qemu`, a folder
    /// of `virsh dumpxml` outputs).
    ///
    /// - Parameters:
    ///   - paths: Files and folders; `-` is standard input.
    ///   - recursive: Read the subfolders of folders too.
    /// - Returns: The guests' CPUs, in the order of `paths` and, within a folder, of names.
    /// - Throws: `CPUCompatError` naming the first file that cannot be read.
    public func readGuestCPUs(_ paths: [String], recursive: Bool = false) throws(CPUCompatError) -> [GuestCPU] {
        var guests: [GuestCPU] = []
        for file in try Self.hostFiles(paths, recursive: recursive) { guests.append(try readGuestCPU(contentsOf: file)) }
        return guests
    }
}

extension GuestFleetReport {
    /// A patched copy of a guest's domain, as written.
    public struct PatchedCopy: Hashable, Sendable {
        /// The domain file.
        public var guest: String
        /// The copy.
        public var copy: String
        /// What the patch left out or merged (as `cpucompat patch` notes it).
        public var notes: [String]
    }

    /// Writes, into `folder`, a copy of every guest that cannot go
    /// everywhere with its `<cpu>` replaced by the fix; each copy keeps the
    /// guest's file name, every byte outside `<cpu>`, and is written atomically.
    ///
    /// - Parameters:
    ///   - folder: An existing folder, or one to create; never a guest's own
    ///     folder (the copies would replace the guests).
    ///   - architecture: The architecture the report was made with.
    ///   - map: The CPU map the guests were read with.
    /// - Returns: The copies written, in guest order.
    /// - Throws: `CPUCompatError.unwritable` when the folder cannot be made,
    ///   two guests share a file name, a copy would replace its guest, or a
    ///   write fails; any error of patching a domain. Copies written before
    ///   the error stay.
    public func writePatchedCopies(into folder: String, architecture: CPUArchitecture,
                                   map: CPUMap) throws(CPUCompatError) -> [PatchedCopy] {
        let fixes = guests.compactMap { placement in placement.fix.map { (placement.guest, $0) } }
        guard !fixes.isEmpty else { return [] }
        var names: [String: String] = [:]
        var jobs: [(job: DomainPatchJob, copy: String)] = []
        for (guest, plan) in fixes {
            guard guest != "-" else { throw .unwritable(path: "-", reason: "a guest on standard input has no file name for its copy") }
            let name = String(guest.split(separator: "/").last ?? Substring(guest))
            if let other = names.updateValue(guest, forKey: name) {
                throw .unwritable(path: folder, reason: "\(other) and \(guest) would both be copied as \(name)")
            }
            let copy = FileSystem.join(folder, name)
            if let original = FileSystem.canonicalPath(guest), original == FileSystem.canonicalPath(copy) {
                throw .unwritable(path: copy, reason: "is the guest itself: the patched copies go to another folder")
            }
            jobs.append((DomainPatchJob(domain: guest, target: .plan(plan, architecture), destination: .file(copy)), copy))
        }
        try FileSystem.makeFolder(folder)
        var written: [PatchedCopy] = []
        for (job, copy) in jobs {
            written.append(PatchedCopy(guest: job.domain, copy: copy, notes: try job.run(with: map).notes))
        }
        return written
    }
}
