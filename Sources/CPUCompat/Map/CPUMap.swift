/// libvirt's CPU map: the vendors, features and named models of each
/// architecture, as loaded from a `cpu_map` folder, a legacy `cpu_map.xml`,
/// or cpucompat's built-in snapshot.
public struct CPUMap: Hashable, Sendable {
    /// Where the map came from.
    public enum Origin: Hashable, Sendable, CustomStringConvertible {
        /// A `cpu_map` folder with an `index.xml`, by its path (also when the
        /// folder is identical to a built-in map, which was used instead of its XML).
        case directory(String)
        /// A single file, by its path: a legacy `cpu_map.xml`, or a snapshot
        /// written by `cpucompat map --snapshot`.
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
    /// The libvirt version the map belongs to (`9.0.0`), where known: that of
    /// a built-in map, of a folder identical to one, or of a snapshot that
    /// records it; nil for a map parsed from XML.
    public var libvirtVersion: String?
    /// A sentence on where the map was taken from, where known (each built-in
    /// map names its Debian package).
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

    /// The architecture the map calls `name`.
    ///
    /// - Parameter name: The map's name for it: `x86`, `ppc64` or `arm`.
    /// - Returns: The architecture, or nil if the map has no part of that name.
    public func architecture(named name: String) -> CPUArchitecture? {
        architectures.first { $0.name == name }
    }

    /// The x86 part of the map, which every analysis in cpucompat is about;
    /// nil if the map has none.
    public var x86: CPUArchitecture? { architecture(named: "x86") }

    /// The map's name for the architecture of a CPU's `<arch>`.
    ///
    /// - Parameter arch: A CPU's `<arch>`, as libvirt writes it.
    /// - Returns: `x86` for `x86_64`, `i686`, `i586`, `i486` and `i386`;
    ///   `ppc64` for `ppc64` and `ppc64le`; `arm` for `aarch64`, `armv7l`,
    ///   `armv6l` and `arm`; nil for any other.
    public static func architectureName(forCPUArch arch: String) -> String? {
        switch arch {
        case "x86_64", "i686", "i386", "i486", "i586": "x86"
        case "ppc64", "ppc64le": "ppc64"
        case "aarch64", "armv7l", "armv6l", "arm": "arm"
        default: nil
        }
    }
}
