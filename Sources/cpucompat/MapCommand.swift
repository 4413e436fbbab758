import ArgumentParser
import CPUCompat

struct MapCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "map",
        abstract: "Say which CPU map is in use and what it holds.",
        discussion: """
        Prints where the map was loaded from (a path, or built-in:RELEASE), its libvirt \
        version where known, and the number of vendors, features and models of each \
        architecture. An installed map that is byte for byte one of the built-in maps \
        is named with that map's libvirt version.

        With --list, prints the built-in maps instead: one line each, the libvirt \
        release, its full version and where it was taken from; `*` marks the one in use.

        With --snapshot, prints the map in cpucompat's compact snapshot form: the form \
        the built-in maps are stored in (see Scripts/update-builtin-map). A folder is \
        then parsed from its XML, never taken from a built-in map or the cache.
        """)

    @OptionGroup var map: MapOptions

    @Option(help: "Output format: text or json.")
    var format: TextOrJSON = .text

    @Flag(help: "List the built-in maps (one per libvirt release) instead of summarising the map in use.")
    var list = false

    @Flag(help: "Print the map as a snapshot (for the built-in maps), not a summary.")
    var snapshot = false

    @Option(help: ArgumentHelp("The libvirt version to record in a snapshot.", valueName: "version"))
    var libvirtVersion: String?

    @Option(help: ArgumentHelp("A sentence on the map's origin to record in a snapshot.", valueName: "text"))
    var provenance: String?

    func run() throws {
        try reportingErrors {
            if list {
                let inUse = try map.load().libvirtVersion
                let entries = BuiltInCPUMapEntry.all(markingInUse: inUse)
                switch format {
                case .json: try emit(try JSONValue(encoding: entries).rendered)
                case .text: try emit(entries.map(\.text).joined())
                }
                return
            }
            if snapshot {
                let cpuMap = try map.load(usingSnapshots: false)
                try emit(cpuMap.snapshot(libvirtVersion: libvirtVersion ?? cpuMap.libvirtVersion,
                                     provenance: provenance ?? cpuMap.provenance))
                return
            }
            let summary = CPUMapSummary(try map.load())
            switch format {
            case .json: try emit(try JSONValue(encoding: summary).rendered)
            case .text: try emit(summary.text)
            }
        }
    }
}
