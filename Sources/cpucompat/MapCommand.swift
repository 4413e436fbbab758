import CPUCompat

struct MapCommand: Command {
    static let spec = CommandSpec(
        name: "map",
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
        """,
        options: MapOptions.options + [
            TextOrJSON.option,
            .flag("list", help: "List the built-in maps (one per libvirt release) instead of summarising the map in use."),
            .flag("snapshot", help: "Print the map as a snapshot (for the built-in maps), not a summary."),
            .value("libvirt-version", "version", help: "The libvirt version to record in a snapshot."),
            .value("provenance", "text", help: "A sentence on the map's origin to record in a snapshot."),
        ],
        command: MapCommand.self)

    let map: MapOptions
    let format: TextOrJSON
    let list: Bool
    let snapshot: Bool
    let libvirtVersion: String?
    let provenance: String?

    init(_ arguments: ParsedArguments) {
        map = MapOptions(arguments)
        format = arguments.choice("format")
        list = arguments.flag("list")
        snapshot = arguments.flag("snapshot")
        libvirtVersion = arguments.value("libvirt-version")
        provenance = arguments.value("provenance")
    }

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
