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
