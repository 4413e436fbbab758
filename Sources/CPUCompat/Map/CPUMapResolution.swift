/// Where cpucompat looks for a CPU map, in order.
extension CPUMap {
    /// The environment variable that names a CPU map folder or file.
    public static let environmentVariable = "CPUCOMPAT_CPU_MAP"
    /// The name that selects the built-in map where a path is expected.
    public static let builtInName = "built-in"
    /// Where libvirt installs its CPU map.
    public static let systemPath = "/usr/share/libvirt/cpu_map"

    /// The CPU map cpucompat uses: `explicitPath` (the `--cpu-map` option) if
    /// given, else `$CPUCOMPAT_CPU_MAP`, else libvirt's installed map at
    /// `/usr/share/libvirt/cpu_map`, else the built-in snapshot.
    /// The name `built-in` in place of a path selects the built-in snapshot.
    ///
    /// A path that is given but cannot be loaded is an error; only the
    /// system path falls through silently when it is absent.
    ///
    /// - Throws: `CPUCompatError` naming the map path and the problem.
    public static func resolve(explicitPath: String? = nil) throws(CPUCompatError) -> CPUMap {
        if let path = explicitPath ?? FileSystem.environment(environmentVariable) {
            if path == builtInName { return try builtIn() }
            guard FileSystem.exists(path) else { throw .unreadable(path: path, reason: "no such CPU map folder or file") }
            return try CPUMap(contentsOf: path)
        }
        if FileSystem.exists(FileSystem.join(systemPath, "index.xml")) {
            return try CPUMap(contentsOf: systemPath)
        }
        return try builtIn()
    }

    /// The snapshot compiled into cpucompat (see `BuiltInCPUMap.swift` for its origin).
    public static func builtIn() throws(CPUCompatError) -> CPUMap {
        try CPUMap(snapshot: builtInCPUMapSnapshot, origin: .builtIn)
    }
}
