import CPUCompat

struct DiffCommand: Command {
    static let spec = CommandSpec(
        name: "diff",
        abstract: "Show what one host's CPU has that another's lacks, and their baseline.",
        discussion: """
        SOURCE and DESTINATION each hold one host CPU (virsh capabilities, virsh \
        domcapabilities, or a <cpu>). "missing on destination" lists the features \
        a host-model guest started on SOURCE would lack on DESTINATION, comma-separated \
        in libvirt's order: the list libvirt prints when it refuses the migration \
        with "guest CPU doesn't match specification: missing features: …". \
        "missing on source" is the reverse. The baseline is the named model both can run.

        Exit status: 0 when the two CPUs have the same features, 1 when they \
        differ, 2 on bad input.
        """,
        arguments: [
            ArgumentSpec("source", completion: .xmlFile, help: "The host a guest would migrate from; - for standard input."),
            ArgumentSpec("destination", completion: .xmlFile, help: "The host a guest would migrate to."),
        ],
        options: MapOptions.options + [TextOrJSON.option],
        command: DiffCommand.self)

    let map: MapOptions
    let source: String
    let destination: String
    let format: TextOrJSON

    init(_ arguments: ParsedArguments) throws(UsageError) {
        map = MapOptions(arguments)
        source = arguments.argument("source")
        destination = arguments.argument("destination")
        format = arguments.choice("format")
        if source == "-", destination == "-" {
            throw UsageError("standard input (-) can be read only once: give SOURCE or DESTINATION as a file")
        }
    }

    func run() throws {
        let diff = try reportingErrors {
            let cpuMap = try map.load()
            let sourceCPU = try cpuMap.readSingleHostCPU(contentsOf: source)
            let destinationCPU = try cpuMap.readSingleHostCPU(contentsOf: destination)
            return try cpuMap.x86Architecture(for: [sourceCPU, destinationCPU]).diff(from: sourceCPU, to: destinationCPU)
        }
        try reportingErrors {
            switch format {
            case .json: try emit(try JSONValue(encoding: diff).rendered)
            case .text: try emit(diff.text)
            }
        }
        if !diff.isIdentical { throw ExitStatus.negativeAnswer }
    }
}
