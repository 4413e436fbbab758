import CPUCompat

struct GuestsCommand: Command {
    static let spec = CommandSpec(
        name: "guests",
        abstract: "Show on which hosts each guest can start, and where it can migrate.",
        discussion: """
        GUEST is a domain XML file, or a folder of them: the inactive definitions \
        in /etc/libvirt/qemu, or the live XML of running guests (virsh dumpxml). \
        For every guest: the hosts it can start on, those it cannot with the \
        features they lack in libvirt's order, and where it can live-migrate.

        A guest with a CPU of its own (mode='custom', or a running guest's \
        host-model, which libvirt expands into a named model in the live XML) \
        presents the same CPU on every host, so it can migrate to exactly the hosts \
        it can start on. A guest whose inactive XML says host-model, \
        host-passthrough or maximum takes its CPU from the host it starts on: it \
        starts anywhere, and where it can migrate depends on that host. Name the \
        host with --running-on (one for all the guests given: run the command once \
        per host for guests on several); without it, each group of identical hosts \
        it could start on is shown. A domain without <cpu> is not compared: libvirt \
        checks no CPU for it, and QEMU runs it as its default model, qemu64, less \
        what the host lacks, so no host refuses it.

        For a guest that cannot go everywhere, the fix is the <cpu> \
        `cpucompat patch --host …` would write: a named model every host runs \
        (--strategy model), or host-model with the features not every host has \
        disabled (--strategy disable). --patch-dir DIR writes a patched copy of \
        each of those guests into DIR under its own file name; the guests \
        themselves are never changed.

        Exit status: 0 when every guest can start on every host and migrate \
        between them, 1 when some cannot, 2 on bad input.
        """,
        arguments: [ArgumentSpec("guest", .oneOrMore, completion: .anyFile,
                                 help: "Domain XML files or folders of *.xml files; - for standard input.")],
        options: MapOptions.options + [
            .value("host", "host", arity: .upToNextOption, completion: .anyFile,
                   help: "Host files (capabilities, domcapabilities, <cpu>) or folders of them, up to the next option; may be repeated."),
            .flag("recursive", help: "Read the subfolders of guest and host folders too."),
            .value("running-on", "host", completion: .xmlFile, help: "The host the host-model and host-passthrough guests run on."),
            .choice("strategy", "strategy", of: PatchStrategy.self, default: .model,
                    help: "How the fix is chosen: model (a named CPU model) or disable (host-model with a disable list)."),
            .value("patch-dir", "folder", completion: .directory,
                   help: "Write a patched copy of each guest that cannot go everywhere into this folder."),
            TextOrJSON.option,
        ],
        command: GuestsCommand.self)

    let map: MapOptions
    let guests: [String]
    let hosts: [String]
    let recursive: Bool
    let runningOn: String?
    let strategy: PatchStrategy
    let patchDir: String?
    let format: TextOrJSON

    init(_ arguments: ParsedArguments) throws(UsageError) {
        map = MapOptions(arguments)
        guests = arguments.arguments("guest")
        hosts = arguments.values("host")
        recursive = arguments.flag("recursive")
        runningOn = arguments.value("running-on")
        strategy = arguments.choice("strategy")
        patchDir = arguments.value("patch-dir")
        format = arguments.choice("format")
        if hosts.isEmpty { throw UsageError("name the hosts with --host FILE (or a folder), at least one") }
    }

    func run() throws {
        let report = try reportingErrors {
            let cpuMap = try map.load()
            let hostCPUs = try cpuMap.readHosts(hosts, recursive: recursive, keepGoing: false).hosts
            let guestCPUs = try cpuMap.readGuestCPUs(guests, recursive: recursive)
            let source = try runningOn.map { path throws(CPUCompatError) in try cpuMap.readSingleHostCPU(contentsOf: path) }
            let architecture = try cpuMap.x86Architecture(for: hostCPUs + guestCPUs.map(\.cpu) + (source.map { [$0] } ?? []))
            let report = try architecture.placements(of: guestCPUs, on: hostCPUs, runningOn: source, strategy: strategy)
            if let patchDir {
                let copies = try report.writePatchedCopies(into: patchDir, architecture: architecture, map: cpuMap)
                // The plan's notes are the same for every copy: each is said once, with the copies it concerns.
                var copiesOfNote: [(note: String, copies: [String])] = []
                for copy in copies {
                    for note in copy.notes {
                        if let index = copiesOfNote.firstIndex(where: { $0.note == note }) {
                            copiesOfNote[index].copies.append(copy.copy)
                        } else {
                            copiesOfNote.append((note, [copy.copy]))
                        }
                    }
                }
                for (note, paths) in copiesOfNote {
                    warn((paths.count == copies.count && copies.count > 1 ? "every copy" : paths.joined(separator: ", ")) + ": " + note)
                }
                warn("wrote \(copies.count) patched cop\(copies.count == 1 ? "y" : "ies") into \(patchDir)")
            }
            try emit(format == .json ? try JSONValue(encoding: report).rendered : report.text)
            return report
        }
        if !report.everyGuestCanGoEverywhere { throw ExitStatus.negativeAnswer }
    }
}
