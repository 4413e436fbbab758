import ArgumentParser
import CPUCompat

struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Check whether a guest CPU can run on a host.",
        discussion: """
        GUEST is a domain XML, a <cpu> (for example the output of cpucompat \
        baseline), or a host-model CPU (domcapabilities). The answer is libvirt's: \
        identical (the host has exactly the guest's features), superset (the host \
        offers more) or incompatible, with libvirt's sentence \
        "guest CPU doesn't match specification: missing features: …" in libvirt's order.

        A host-model or host-passthrough guest gets its CPU from the host it starts \
        on, so whether it can move to HOST depends on that host: name it with \
        --started-on. Without --started-on such a guest is refused with a line \
        saying so (exit status 2): it could start on HOST, which says nothing about \
        migrating it there. The output says what the guest was compared as.

        Exit status: 0 when the guest can run on the host, 1 when it cannot, 2 on \
        bad input (including a host-model guest without --started-on).
        """)

    @OptionGroup var map: MapOptions

    @Option(help: ArgumentHelp("The host (capabilities, domcapabilities or <cpu>).", valueName: "file"),
            completion: .file(extensions: ["xml"]))
    var host: String

    @Option(help: ArgumentHelp("For a host-model guest: the host it was started on.", valueName: "file"),
            completion: .file(extensions: ["xml"]))
    var startedOn: String?

    @Argument(help: ArgumentHelp("The guest: a domain XML or a <cpu>; - for standard input.", valueName: "guest"),
              completion: .file(extensions: ["xml"]))
    var guest: String

    @Option(help: "Output format: text or json.")
    var format: TextOrJSON = .text

    func run() throws {
        let comparison = try reportingErrors {
            let cpuMap = try map.load()
            let hostCPU = try cpuMap.readSingleHostCPU(contentsOf: host)
            let guestCPU = try cpuMap.readSingleCPU(contentsOf: guest)
            let source = try startedOn.map { path throws(CPUCompatError) in try cpuMap.readSingleHostCPU(contentsOf: path) }
            if guestCPU.takesItsCPUFromTheHost, source == nil {
                throw CPUCompatError.invalidCPU(
                    path: guestCPU.definition.path, line: guestCPU.definition.line,
                    message: "the guest's CPU is \(guestCPU.definition.mode ?? "host-model"): it takes the CPU of the host it "
                        + "starts on, so whether it can run on \(host) depends on that host; name it with --started-on FILE")
            }
            return try cpuMap.x86Architecture(for: [hostCPU, guestCPU] + (source.map { [$0] } ?? []))
                .compare(guest: guestCPU, host: hostCPU, startedOn: source)
        }
        try reportingErrors {
            switch format {
            case .json: try emit(try JSONValue(encoding: comparison).rendered)
            case .text: try emit(comparison.text)
            }
        }
        if !comparison.isRunnable { throw ExitCode.negativeAnswer }
    }
}
