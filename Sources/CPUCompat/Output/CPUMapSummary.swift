/// What `cpucompat map` reports: where the map is from and its size.
public struct CPUMapSummary: Hashable, Sendable, Codable {
    /// One architecture's counts.
    public struct Architecture: Hashable, Sendable, Codable {
        /// The map's name for the architecture (`x86`).
        public var name: String
        /// How many vendors it defines.
        public var vendors: Int
        /// How many features it defines.
        public var features: Int
        /// How many models it defines.
        public var models: Int
    }

    /// Where the map came from, as ``CPUMap/Origin`` describes it: a path,
    /// or `built-in:12.9`.
    public var source: String
    /// The libvirt release the map comes from, where known.
    public var libvirtVersion: String?
    /// Where the map was taken from, where known.
    public var provenance: String?
    /// Counts per architecture, in map order.
    public var architectures: [Architecture]

    /// The summary of `map`.
    ///
    /// - Parameter map: A loaded CPU map.
    public init(_ map: CPUMap) {
        source = map.origin.description
        libvirtVersion = map.libvirtVersion
        provenance = map.provenance
        architectures = map.architectures.map {
            Architecture(name: $0.name, vendors: $0.vendors.count, features: $0.features.count, models: $0.models.count)
        }
    }

    /// The summary as `cpucompat map` prints it: the map's source, its
    /// libvirt version (`unknown` where the map does not say), its provenance
    /// where known, and one line of counts per architecture; it ends in a line break.
    public var text: String {
        var lines = ["CPU map: \(source)", "libvirt version: \(libvirtVersion ?? "unknown")"]
        if let provenance { lines.append("origin: \(provenance)") }
        for architecture in architectures {
            lines.append("\(architecture.name): \(architecture.vendors) vendors, \(architecture.features) features, \(architecture.models) models")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

/// One line of `cpucompat map --list`: a built-in map.
public struct BuiltInCPUMapEntry: Hashable, Sendable, Codable {
    /// `built-in:12.9`, the `--cpu-map` value that selects it.
    public var name: String
    /// The libvirt version (`12.9.0`).
    public var libvirtVersion: String
    /// The Debian package it was taken from.
    public var provenance: String
    /// Whether it is the map `built-in` selects, the newest.
    public var isDefault: Bool
    /// Whether it is the map in use (by name, or an installed map identical
    /// to it): its libvirt version is the one ``all(markingInUse:)`` was given.
    public var inUse: Bool

    /// Every built-in map, oldest first.
    ///
    /// - Parameter version: The libvirt version of the map in use
    ///   (``CPUMap/libvirtVersion``), if known.
    /// - Returns: One entry per built-in map; the one of `version`, if any, is in use.
    public static func all(markingInUse version: String?) -> [BuiltInCPUMapEntry] {
        BuiltInCPUMap.all.map { map in
            BuiltInCPUMapEntry(name: map.description, libvirtVersion: map.libvirtVersion, provenance: map.provenance,
                               isDefault: map == BuiltInCPUMap.newest, inUse: map.libvirtVersion == version)
        }
    }

    /// The entry as a line of `cpucompat map --list`, ending in a line break:
    /// `*` for the map in use (else a space), the name, the libvirt version,
    /// the provenance, and ` (built-in)` for the default:
    /// `* built-in:12.9  libvirt 12.9.0  cpu_map of Debian's libvirt0 package, version 12.9.0-1~bpo13+1 (built-in)`.
    public var text: String {
        "\(inUse ? "*" : " ") \(name)  libvirt \(libvirtVersion)  \(provenance)\(isDefault ? " (built-in)" : "")\n"
    }
}
