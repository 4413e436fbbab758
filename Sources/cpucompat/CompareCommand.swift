import CPUCompat

struct CompareCommand: Command {
    static let spec = CommandSpec(
        name: "compare",
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
        """,
        arguments: [ArgumentSpec("guest", completion: .xmlFile, help: "The guest: a domain XML or a <cpu>; - for standard input.")],
        options: MapOptions.options + [
            .value("host", "file", required: true, completion: .xmlFile, help: "The host (capabilities, domcapabilities or <cpu>)."),
            .value("started-on", "file", completion: .xmlFile, help: "For a host-model guest: the host it was started on."),
            TextOrJSON.option,
        ],
        command: CompareCommand.self)

    let map: MapOptions
    let host: String
    let startedOn: String?
    let guest: String
    let format: TextOrJSON

    init(_ arguments: ParsedArguments) {
        map = MapOptions(arguments)
        host = arguments.requiredValue("host")
        startedOn = arguments.value("started-on")
        guest = arguments.argument("guest")
        format = arguments.choice("format")
    }

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
        if !comparison.isRunnable { throw ExitStatus.negativeAnswer }
    }
}
