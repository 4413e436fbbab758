/// What `cpucompat map` reports: where the map is from and its size.
public struct CPUMapSummary: Hashable, Sendable, Codable {
    /// One architecture's counts.
    public struct Architecture: Hashable, Sendable, Codable {
        public var name: String
        public var vendors: Int
        public var features: Int
        public var models: Int
    }

    /// The map's path, or `built-in`.
    public var source: String
    /// The libvirt release the map comes from, where known.
    public var libvirtVersion: String?
    /// Where the map was taken from, where known.
    public var provenance: String?
    /// Counts per architecture, in map order.
    public var architectures: [Architecture]

    public init(_ map: CPUMap) {
        source = map.origin.description
        libvirtVersion = map.libvirtVersion
        provenance = map.provenance
        architectures = map.architectures.map {
            Architecture(name: $0.name, vendors: $0.vendors.count, features: $0.features.count, models: $0.models.count)
        }
    }

    /// The summary as text.
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
    /// Whether it is `built-in`, the newest.
    public var isDefault: Bool
    /// Whether it is the map in use (by name, or an installed map identical to it).
    public var inUse: Bool

    /// Every built-in map, oldest first.
    ///
    /// - Parameter version: The libvirt version of the map in use, if known.
    public static func all(markingInUse version: String?) -> [BuiltInCPUMapEntry] {
        BuiltInCPUMap.all.map { map in
            BuiltInCPUMapEntry(name: map.description, libvirtVersion: map.libvirtVersion, provenance: map.provenance,
                               isDefault: map == BuiltInCPUMap.newest, inUse: map.libvirtVersion == version)
        }
    }

    /// `* built-in:12.9  libvirt 12.9.0  cpu_map of …  (the default built-in map)`.
    public var text: String {
        "\(inUse ? "*" : " ") \(name)  libvirt \(libvirtVersion)  \(provenance)\(isDefault ? " (built-in)" : "")\n"
    }
}
