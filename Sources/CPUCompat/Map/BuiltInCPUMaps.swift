import Synchronization

/// A CPU map compiled into cpucompat: the `cpu_map` of one libvirt release,
/// exported by cpucompat's own exporter (`cpucompat map --snapshot`, run by
/// `Scripts/update-builtin-map`) from the Debian package that ships it.
///
/// cpucompat carries the releases its users run: 9.0 (Debian 12), 11.3
/// (Debian 13) and 12.9 (backports). `--cpu-map built-in` is the newest,
/// `built-in:9.0` picks one.
public struct BuiltInCPUMap: Hashable, Sendable, CustomStringConvertible {
    /// The release as users name it: `9.0`, `11.3`, `12.9`.
    public let release: String
    /// The map in snapshot form (see `CPUMap.snapshot(libvirtVersion:provenance:)`).
    let snapshot: String
    /// The map once decoded, shared by every copy of this value.
    private let decoded = DecodedMap()

    init(release: String, snapshot: String) {
        self.release = release
        self.snapshot = snapshot
    }

    public static func == (left: BuiltInCPUMap, right: BuiltInCPUMap) -> Bool {
        left.release == right.release && left.snapshot == right.snapshot
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(release)
    }

    /// Every built-in map, oldest release first.
    public static let all: [BuiltInCPUMap] = [
        BuiltInCPUMap(release: "9.0", snapshot: builtInCPUMapSnapshot_9_0),
        BuiltInCPUMap(release: "11.3", snapshot: builtInCPUMapSnapshot_11_3),
        BuiltInCPUMap(release: "12.9", snapshot: builtInCPUMapSnapshot_12_9),
    ]

    /// The newest release's map: what `built-in` means.
    public static var newest: BuiltInCPUMap { all[all.count - 1] }

    /// The built-in map of a release.
    ///
    /// - Parameter release: The release as users name it (`12.9`), or its
    ///   full libvirt version (`12.9.0`).
    /// - Returns: The map, or nil if cpucompat carries none of that release.
    public static func named(_ release: String) -> BuiltInCPUMap? {
        all.first { $0.release == release || $0.libvirtVersion == release }
    }

    /// `built-in:12.9`: the name that selects this map where a path is expected.
    public var description: String { CPUMap.builtInName + ":" + release }

    /// The full libvirt version the map was taken from (`12.9.0`); the
    /// release where the snapshot does not record it.
    public var libvirtVersion: String { headerValue("libvirt") ?? release }
    /// Where the map was taken from: the Debian package and its version
    /// (empty where the snapshot does not record it).
    public var provenance: String { headerValue("provenance") ?? "" }
    /// The fingerprint of the folder the map was made from (see `CPUMap.fingerprint(ofFolder:)`).
    var fingerprint: String? { headerValue("fingerprint") }

    /// The decoded map: decoded on first use, then shared for the life of the process.
    ///
    /// Keeping it also spares a run the freeing of the map's hundreds of
    /// arrays and strings at its end, a twentieth of a short run's instructions.
    ///
    /// - Returns: The map, with origin ``CPUMap/Origin/builtIn(release:)``
    ///   and the snapshot's libvirt version and provenance.
    /// - Throws: ``CPUCompatError/invalidMap(path:line:message:)`` if the
    ///   snapshot cannot be read, which the tests rule out for every built-in map.
    public func load() throws(CPUCompatError) -> CPUMap {
        if let map = decoded.map.withLock({ $0 }) { return map }
        let map = try CPUMap(snapshot: snapshot, origin: .builtIn(release: release))
        decoded.map.withLock { $0 = map }
        return map
    }

    /// A box for the decoded map. (Not a dictionary of maps by release: a
    /// dictionary type's first use costs more instructions than the box saves.)
    private final class DecodedMap: Sendable {
        let map = Mutex<CPUMap?>(nil)
    }

    /// A value of the snapshot's header (its first lines), read without decoding the map.
    private func headerValue(_ key: String) -> String? {
        for line in snapshot.utf8.split(separator: UInt8(ascii: "\n"), maxSplits: 5).dropFirst() {
            guard line.starts(with: key.utf8), line.dropFirst(key.utf8.count).first == UInt8(ascii: " ") else { continue }
            return String(decoding: line.dropFirst(key.utf8.count + 1), as: UTF8.self)
        }
        return nil
    }

    /// Whether the map defines a model called `name`, read from the snapshot
    /// text without decoding it (for error messages about other releases).
    func definesModel(_ name: String) -> Bool {
        snapshot.contains("\nmodel \(CPUMap.snapshotEscape(name)) ")
    }

    /// Whether the map defines a feature called `name`, or has it as an alias.
    func definesFeature(_ name: String) -> Bool {
        let escaped = CPUMap.snapshotEscape(name)
        return snapshot.contains("\nfeature \(escaped) ") || snapshot.contains("\nfeature \(escaped)\n")
            || snapshot.contains(" alias=\(escaped)/")
    }
}

extension CPUMap {
    /// The built-in map of `release`, or of the newest release.
    ///
    /// - Parameter release: `9.0`, `11.3` or `12.9` (or the full version,
    ///   `9.0.0`); nil for the newest.
    /// - Returns: The decoded map (see ``BuiltInCPUMap/load()``).
    /// - Throws: ``CPUCompatError/unreadable(path:reason:)`` for a release
    ///   cpucompat has no map of, naming the ones it has.
    public static func builtIn(release: String? = nil) throws(CPUCompatError) -> CPUMap {
        guard let release else { return try BuiltInCPUMap.newest.load() }
        guard let builtIn = BuiltInCPUMap.named(release) else {
            let known = BuiltInCPUMap.all.map(\.description).joined(separator: ", ")
            throw .unreadable(path: builtInName + ":" + release, reason: "no built-in CPU map of that release (there are \(known))")
        }
        return try builtIn.load()
    }

    /// What to tell a user whose input names a model this map lacks: which
    /// built-in maps of other releases define it, and how to choose one.
    func hint(forUnknownModel name: String) -> String? {
        hint(definedBy: BuiltInCPUMap.all.filter { $0.definesModel(name) })
    }

    /// The same for a feature.
    func hint(forUnknownFeature name: String) -> String? {
        hint(definedBy: BuiltInCPUMap.all.filter { $0.definesFeature(name) })
    }

    private func hint(definedBy releases: [BuiltInCPUMap]) -> String? {
        let others = releases.filter { $0.libvirtVersion != libvirtVersion }
        guard let newest = others.last else { return nil }
        let names = others.map(\.release)
        let list = "libvirt " + (names.count == 1 ? names[0] : names.dropLast().joined(separator: ", ") + " and " + names[names.count - 1])
        let mine = libvirtVersion.map { "libvirt \($0)'s CPU map lacks it" } ?? "this CPU map lacks it"
        return "\(mine); \(list) \(others.count == 1 ? "defines" : "define") it (use --cpu-map \(newest))"
    }
}
