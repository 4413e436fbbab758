#if canImport(Glibc)
import Glibc
#endif

/// Compiled snapshots of CPU map folders that are none of the built-in maps
/// (a libvirt built from git, a distribution's patched map), kept in the
/// user's cache so such a folder is parsed once, not on every run.
///
/// The cache is `$XDG_CACHE_HOME/cpucompat` (an absolute path), else
/// `~/.cache/cpucompat`; an entry is `map-<fingerprint>.snapshot`, keyed by
/// the folder's fingerprint, so an edited folder gets a new entry. An entry
/// ends with a checksum line over everything before it: a missing,
/// unwritable, truncated, stale or corrupt cache is never an error; the
/// folder is parsed again.
struct CPUMapCache {
    /// The cache folder; nil for no cache.
    let folder: String?

    /// The user's cache, as the environment names it.
    static var user: CPUMapCache {
        if let cache = FileSystem.environment("XDG_CACHE_HOME"), cache.hasPrefix("/") {
            return CPUMapCache(folder: FileSystem.join(cache, "cpucompat"))
        }
        guard let home = FileSystem.environment("HOME"), home.hasPrefix("/") else { return CPUMapCache(folder: nil) }
        return CPUMapCache(folder: FileSystem.join(home, ".cache/cpucompat"))
    }

    /// The entry file for a folder's fingerprint. The snapshot format's
    /// version is part of the name: a cpucompat that reads maps differently
    /// writes a new format, and never takes an older one's entries.
    func entry(for fingerprint: String) -> String? {
        folder.map { FileSystem.join($0, "map-v2-\(fingerprint).snapshot") }
    }

    /// The cached map of the folder with `fingerprint`, if a sound entry exists.
    func load(fingerprint: String, origin: CPUMap.Origin) -> CPUMap? {
        guard let path = entry(for: fingerprint), Self.isTrusted(path),
              let bytes = try? FileSystem.read(path),
              let body = Self.verifiedBody(bytes), body.starts(with: Array((CPUMap.snapshotHeader + "\n").utf8)),
              let map = try? CPUMap(snapshot: String(decoding: body, as: UTF8.self), origin: origin),
              map.folderFingerprint == fingerprint
        else { return nil }
        return map
    }

    /// Keeps `map` (read from a folder) for later runs; failures are ignored.
    func store(_ map: CPUMap) {
        guard let fingerprint = map.folderFingerprint, let path = entry(for: fingerprint), let folder else { return }
        guard Self.makeFolders(folder), Self.isTrusted(folder) else { return }
        // Only ever a regular file, replaced: something else at the path (a FIFO) is left alone.
        var status = stat()
        if lstat(path, &status) == 0, status.st_mode & S_IFMT != S_IFREG { return }
        guard (try? SafeFileUpdate.write(Self.sealed(map.snapshot(libvirtVersion: map.libvirtVersion, provenance: map.provenance)),
                                         to: path)) != nil else { return }
        chmod(path, 0o600)
    }

    /// A snapshot with its checksum line, as entries are stored.
    static func sealed(_ snapshot: String) -> [UInt8] {
        var bytes = Array(snapshot.utf8)
        bytes += Array("checksum \(checksum(bytes))\n".utf8)
        return bytes
    }

    /// Whether `path` (an entry or the folder) is what this user alone could
    /// have written: owned by the effective user and writable by no one else,
    /// not a link. The checksum is no secret, so root run with a user's
    /// `$HOME` must not take a snapshot that user could have planted.
    private static func isTrusted(_ path: String) -> Bool {
        var status = stat()
        return lstat(path, &status) == 0 && status.st_mode & S_IFMT != S_IFLNK
            && status.st_uid == geteuid() && status.st_mode & 0o022 == 0
    }

    /// The bytes before a final `checksum` line that matches them.
    private static func verifiedBody(_ bytes: [UInt8]) -> ArraySlice<UInt8>? {
        guard bytes.last == UInt8(ascii: "\n"),
              let start = bytes.dropLast().lastIndex(of: UInt8(ascii: "\n")).map({ $0 + 1 }) else { return nil }
        let line = String(decoding: bytes[start..<(bytes.count - 1)], as: UTF8.self)
        let body = bytes[..<start]
        guard line == "checksum \(checksum(body))" else { return nil }
        return body
    }

    private static func checksum(_ bytes: some Collection<UInt8>) -> String {
        var hash = FNV1a64()
        hash.mix(Array(bytes))
        return hash.hex
    }

    /// `mkdir -p`, private to the user (0700, as XDG asks of cache folders).
    private static func makeFolders(_ path: String) -> Bool {
        if FileSystem.isDirectory(path) { return true }
        let parent = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? ""
        if !parent.isEmpty, !FileSystem.isDirectory(parent), !makeFolders(parent) { return false }
        return mkdir(path, 0o700) == 0 || errno == EEXIST
    }
}

/// A 64-bit multiply-xor hash with FNV-1a's constants, eight bytes a step:
/// fast, and plenty to tell files apart that nobody crafted to collide.
struct FNV1a64 {
    private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    /// Mixes in the length and then the bytes of `bytes`.
    mutating func mix(_ bytes: [UInt8]) {
        value = (value ^ UInt64(bytes.count)) &* 0x100_0000_01b3
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset + 8 <= raw.count {
                value = (value ^ raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) &* 0x100_0000_01b3
                offset += 8
            }
            while offset < raw.count {
                value = (value ^ UInt64(raw[offset])) &* 0x100_0000_01b3
                offset += 1
            }
        }
    }

    /// The value in hexadecimal.
    var hex: String { String(value, radix: 16) }
}
