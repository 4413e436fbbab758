/// Where cpucompat looks for a CPU map, in order.
extension CPUMap {
    /// The environment variable that names a CPU map folder or file (or
    /// `built-in`, `built-in:RELEASE`) when no path is given.
    public static let environmentVariable = "CPUCOMPAT_CPU_MAP"
    /// The name that selects the newest built-in map where a path is
    /// expected; `built-in:9.0` selects the map of one release.
    public static let builtInName = "built-in"
    /// Where libvirt installs its CPU map; used when it holds an `index.xml`
    /// and neither a path nor the environment variable names a map.
    public static let systemPath = "/usr/share/libvirt/cpu_map"

    /// The CPU map cpucompat uses: `explicitPath` (the `--cpu-map` option) if
    /// given, else `$CPUCOMPAT_CPU_MAP`, else libvirt's installed map at
    /// `/usr/share/libvirt/cpu_map`, else the newest built-in map.
    /// In place of a path, `built-in` selects the newest built-in map and
    /// `built-in:RELEASE` (`built-in:9.0`) the map of that libvirt release.
    ///
    /// A path that is given but cannot be loaded is an error; only the
    /// system path falls through silently when it is absent.
    ///
    /// - Parameters:
    ///   - explicitPath: The `--cpu-map` argument, if any.
    ///   - usingSnapshots: False to parse a folder's XML even when a built-in
    ///     map or the user's cache holds it compiled.
    /// - Returns: The map.
    /// - Throws: ``CPUCompatError`` naming the map path and the problem: a
    ///   path that does not exist, an unknown built-in release, or any error
    ///   of ``init(contentsOf:usingSnapshots:)``.
    public static func resolve(explicitPath: String? = nil, usingSnapshots: Bool = true) throws(CPUCompatError) -> CPUMap {
        if let path = explicitPath ?? FileSystem.environment(environmentVariable) {
            if path == builtInName { return try builtIn() }
            if path.hasPrefix(builtInName + ":") { return try builtIn(release: String(path.dropFirst(builtInName.count + 1))) }
            guard FileSystem.exists(path) else { throw .unreadable(path: path, reason: "no such CPU map folder or file") }
            return try CPUMap(contentsOf: path, usingSnapshots: usingSnapshots)
        }
        if FileSystem.exists(FileSystem.join(systemPath, "index.xml")) {
            return try CPUMap(contentsOf: systemPath, usingSnapshots: usingSnapshots)
        }
        return try builtIn()
    }
}
