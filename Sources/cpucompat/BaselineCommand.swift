import CPUCompat

struct BaselineCommand: Command {
    static let spec = CommandSpec(
        name: "baseline",
        abstract: "Compute the best CPU model every given host can run, as libvirt does.",
        discussion: """
        Reads every host CPU in the HOSTs (virsh capabilities, virsh \
        domcapabilities, or <cpu> elements; several may be concatenated in one file, \
        and a folder stands for its *.xml files) and prints their baseline: the \
        named model and the features a guest may use on all of them. The XML \
        output is byte for byte what `virsh cpu-baseline` of libvirt 9.0, 11.3 and \
        12.9 prints for the same CPUs and that release's CPU map; put it in a \
        guest's <cpu>, or give it to `cpucompat patch --baseline`. A guest's domain \
        XML is refused: it describes no host.

        One deliberate difference: features a domcapabilities host-model disables \
        (policy='disable') count as missing; libvirt ignores them.

        Exit status: 0 with a baseline; 2 when the CPUs have different vendors, \
        share no feature, or name a model, feature or vendor the map does not know; \
        3 with --keep-going when some files were skipped (the baseline is of the others).
        """,
        arguments: HostArguments.arguments,
        options: MapOptions.options + HostArguments.options + [
            .flag("features", help: "List every feature of the baseline, not only those beyond the model (virsh's --features)."),
            .flag("migratable", help: "Leave out features that prevent migration (migratable='no' in the map, such as invtsc)."),
            .flag("allow-cross-vendor",
                  help: "Where the hosts' vendors differ, give the best vendor-neutral model (qemu64, kvm64) with the features all share, instead of failing.",
                  discussion: "Live migration between CPU vendors is risky: guests may see different CPUID, microcode and errata behaviour."),
            .choice("format", "format", of: XMLOrJSON.self, default: .xml, help: "Output format: xml (libvirt's <cpu>) or json."),
            .flag("quiet", short: "q", help: "Print no warnings (the result and errors only)."),
        ],
        command: BaselineCommand.self)

    let map: MapOptions
    let input: HostArguments
    let features: Bool
    let migratable: Bool
    let allowCrossVendor: Bool
    let format: XMLOrJSON
    let quiet: Bool

    init(_ arguments: ParsedArguments) {
        map = MapOptions(arguments)
        input = HostArguments(arguments)
        features = arguments.flag("features")
        migratable = arguments.flag("migratable")
        allowCrossVendor = arguments.flag("allow-cross-vendor")
        format = arguments.choice("format")
        quiet = arguments.flag("quiet")
    }

    func run() throws {
        try reportingErrors {
            let cpuMap = try map.load()
            let (cpus, skippedSome) = try input.load(cpuMap)
            let x86 = try cpuMap.x86Architecture(for: cpus)
            let baseline = try x86.baseline(of: cpus, options: .init(expandFeatures: features, migratableOnly: migratable,
                                                                     allowCrossVendor: allowCrossVendor))
            if !quiet { for warning in baseline.warnings { warn("warning: \(warning)") } }
            switch format {
            case .xml: try emit(baseline.libvirtXML + "\n")  // virsh ends its output with a blank line
            case .json: try emit(try JSONValue(encoding: BaselineReport(cpus: cpus.map { CPUSummary($0, in: x86) }, baseline: baseline)).rendered)
            }
            if skippedSome { throw ExitStatus.someFilesSkipped }
        }
    }
}
