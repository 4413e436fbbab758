/// libvirt's CPU map: the vendors, features and named models of each
/// architecture, as loaded from a `cpu_map` folder, a legacy `cpu_map.xml`,
/// or cpucompat's built-in snapshot.
public struct CPUMap: Hashable, Sendable {
    /// Where the map came from.
    public enum Origin: Hashable, Sendable, CustomStringConvertible {
        /// A `cpu_map` folder with an `index.xml`.
        case directory(String)
        /// A single legacy `cpu_map.xml` file.
        case legacyFile(String)
        /// A map compiled into cpucompat, of the libvirt release given (`12.9`).
        case builtIn(release: String)

        /// The path, or `built-in:12.9`.
        public var description: String {
            switch self {
            case let .directory(path), let .legacyFile(path): path
            case let .builtIn(release): "built-in:\(release)"
            }
        }
    }

    /// Where the map came from.
    public var origin: Origin
    /// The libvirt release the map belongs to, where known.
    public var libvirtVersion: String?
    /// A sentence on the map's provenance, where known (the built-in snapshot has one).
    public var provenance: String?
    /// The architectures, in map order.
    public var architectures: [CPUArchitecture]
    /// For a map read from a folder, or a snapshot of one: the folder's
    /// fingerprint (see `CPUMap.fingerprint(ofFolder:)`).
    var folderFingerprint: String?

    init(origin: Origin, libvirtVersion: String?, provenance: String?, architectures: [CPUArchitecture],
         folderFingerprint: String? = nil) {
        self.origin = origin
        self.libvirtVersion = libvirtVersion
        self.provenance = provenance
        self.architectures = architectures
        self.folderFingerprint = folderFingerprint
    }

    /// The architecture the map calls `name` (`x86`, `ppc64`, `arm`).
    public func architecture(named name: String) -> CPUArchitecture? {
        architectures.first { $0.name == name }
    }

    /// The x86 part of the map, which every analysis in cpucompat is about.
    public var x86: CPUArchitecture? { architecture(named: "x86") }

    /// The map's architecture for a CPU's `<arch>` (`x86_64`, `i686`, `aarch64`, `ppc64le`).
    public static func architectureName(forCPUArch arch: String) -> String? {
        switch arch {
        case "x86_64", "i686", "i386", "i486", "i586": "x86"
        case "ppc64", "ppc64le": "ppc64"
        case "aarch64", "armv7l", "armv6l", "arm": "arm"
        default: nil
        }
    }
}
