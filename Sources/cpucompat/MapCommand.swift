import ArgumentParser
import CPUCompat

struct MapCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "map",
        abstract: "Say which CPU map is in use and what it holds.",
        discussion: """
        Prints where the map was loaded from (a path, or "built-in"), its libvirt \
        version where known, and the number of vendors, features and models of each \
        architecture. With --snapshot, prints the map in cpucompat's compact snapshot \
        form instead: the form the built-in map is stored in (see Scripts/update-builtin-map).
        """)

    @OptionGroup var map: MapOptions

    @Option(help: "Output format: text or json.")
    var format: OutputFormat = .text

    @Flag(help: "Print the map as a snapshot (for the built-in map), not a summary.")
    var snapshot = false

    @Option(help: ArgumentHelp("The libvirt version to record in a snapshot.", valueName: "version"))
    var libvirtVersion: String?

    @Option(help: ArgumentHelp("A sentence on the map's origin to record in a snapshot.", valueName: "text"))
    var provenance: String?

    func run() throws {
        try reportingErrors {
            let cpuMap = try map.load()
            if snapshot {
                emit(cpuMap.snapshot(libvirtVersion: libvirtVersion ?? cpuMap.libvirtVersion,
                                     provenance: provenance ?? cpuMap.provenance))
                return
            }
            let summary = CPUMapSummary(cpuMap)
            switch format {
            case .json: emit(try JSONValue(encoding: summary).rendered)
            case .text, .xml: emit(summary.text)
            }
        }
    }
}
