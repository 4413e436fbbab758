import ArgumentParser
import CPUCompat

struct BaselineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "baseline",
        abstract: "Compute the best CPU model every given host can run, as libvirt does.",
        discussion: """
        Reads every CPU in the FILEs (virsh capabilities, virsh domcapabilities, \
        domain XML, or one or more <cpu> elements) and prints their baseline: the \
        named model and the features a guest may use on all of them. The XML \
        output is byte for byte what libvirt 9.0's `virsh cpu-baseline` prints for \
        the same CPUs and CPU map; put it in a guest's <cpu>, or give it to \
        `cpucompat patch --baseline`.

        One deliberate difference: features a domcapabilities host-model disables \
        (policy='disable') count as missing; libvirt 9.0 ignores them.

        Fails with exit status 2 when the CPUs have different vendors, share no \
        feature, or name a model, feature or vendor the map does not know.
        """)

    @OptionGroup var map: MapOptions

    @Argument(help: ArgumentHelp("Files with host CPUs; - for standard input.", valueName: "file"),
              completion: .file(extensions: ["xml"]))
    var files: [String]

    @Flag(help: "List every feature of the baseline, not only those beyond the model (virsh's --features).")
    var features = false

    @Flag(help: "Leave out features that prevent migration (migratable='no' in the map, such as invtsc).")
    var migratable = false

    @Flag(help: ArgumentHelp("Where the hosts' vendors differ, give the best vendor-neutral model (qemu64, kvm64) with the features all share, instead of failing.",
                             discussion: "Live migration between CPU vendors is risky: guests may see different CPUID, microcode and errata behaviour."))
    var allowCrossVendor = false

    @Option(help: "Output format: xml (libvirt's <cpu>) or json.")
    var format: OutputFormat = .xml

    func run() throws {
        try reportingErrors {
            let cpuMap = try map.load()
            var cpus: [CPU] = []
            for file in files { cpus += try cpuMap.readHostCPUs(contentsOf: file) }
            let x86 = try cpuMap.x86Architecture(for: cpus)
            let baseline = try x86.baseline(of: cpus, options: .init(expandFeatures: features, migratableOnly: migratable,
                                                                     allowCrossVendor: allowCrossVendor))
            for warning in baseline.warnings { warn("warning: \(warning)") }
            switch format {
            case .xml, .text: try emit(baseline.libvirtXML + "\n")  // virsh ends its output with a blank line
            case .json: try emit(try JSONValue(encoding: BaselineReport(cpus: cpus.map { CPUSummary($0, in: x86) }, baseline: baseline)).rendered)
            }
        }
    }
}
