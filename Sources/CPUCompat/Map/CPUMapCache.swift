#if canImport(Glibc)
import Glibc
#endif

/// Compiled snapshots of CPU map folders that are none of the built-in maps
/// (a libvirt built from git, a distribution's patched map), kept in the
/// user's cache so such a folder is parsed once, not on every run; and the
/// fingerprints of map folders, so that an unchanged folder (the installed
/// map, read by every run) is not read whole to be recognised.
///
/// The cache is `$XDG_CACHE_HOME/cpucompat` (an absolute path), else
/// `~/.cache/cpucompat`; a map entry is `map-v2-<fingerprint>.snapshot`,
/// keyed by the folder's fingerprint, so an edited folder gets a new entry;
/// a fingerprint entry is `folder-v1-<hash of the path>.stamps` (see
/// `FolderStamps`). An entry ends with a checksum line over everything
/// before it: a missing, unwritable, truncated, stale or corrupt cache is
/// never an error; the folder is read again.
struct CPUMapCache {
    /// The cache folder; nil for no cache.
    let folder: String?
    /// How long ago a map folder's files must have last changed for their
    /// stamps to be recorded (see `FolderStamps`); seconds.
    var settlingTime = 2

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
        guard let path = entry(for: fingerprint), let body = Self.verifiedEntry(at: path),
              body.starts(with: Array((CPUMap.snapshotHeader + "\n").utf8)),
              let map = try? CPUMap(snapshot: String(decoding: body, as: UTF8.self), origin: origin),
              map.folderFingerprint == fingerprint
        else { return nil }
        return map
    }

    /// Keeps `map` (read from a folder) for later runs; failures are ignored.
    func store(_ map: CPUMap) {
        guard let fingerprint = map.folderFingerprint, let path = entry(for: fingerprint) else { return }
        write(map.snapshot(libvirtVersion: map.libvirtVersion, provenance: map.provenance), to: path)
    }

    /// The body of the entry at `path`, if it is trusted and its checksum holds.
    private static func verifiedEntry(at path: String) -> ArraySlice<UInt8>? {
        guard isTrusted(path), let bytes = try? FileSystem.read(path) else { return nil }
        return verifiedBody(bytes)
    }

    /// Writes `text`, sealed, as the entry at `path`, private to the user; failures are ignored.
    private func write(_ text: String, to path: String) {
        guard let folder, Self.makeFolders(folder), Self.isTrusted(folder) else { return }
        // Only ever a regular file, replaced: something else at the path (a FIFO) is left alone.
        var status = stat()
        if lstat(path, &status) == 0, status.st_mode & S_IFMT != S_IFREG { return }
        guard (try? SafeFileUpdate.write(Self.sealed(text), to: path)) != nil else { return }
        chmod(path, 0o600)
    }

    /// What the files of a map folder look like to `stat`: for each `*.xml`
    /// file its name, device, inode, size, and modification and change times
    /// to the nanosecond, hashed. While these are unchanged, so are the
    /// files, short of an edit in the same clock tick as the one before it
    /// that keeps the size; so files changed less than `settlingTime` ago are
    /// never recorded (git's index takes the same care), and a later edit
    /// changes the change time, which no one can set back.
    struct FolderStamps {
        let folder: String
        /// The hash of every file's name and stamps, in hexadecimal.
        let hash: String
        /// Whether every file's change time is `settlingTime` seconds ago or earlier.
        let settled: Bool

        /// The stamps of `names` in `folder`; nil if one cannot be read.
        init?(folder: String, names: [String], settlingTime: Int) {
            // Each name is looked up in the open folder: no path to build per file.
            let directory = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            guard directory >= 0 else { return nil }
            defer { close(directory) }
            var hash = FNV1a64()
            var newest = 0
            for name in names {
                var status = stat()
                guard fstatat(directory, name, &status, 0) == 0 else { return nil }
                hash.mix(Array(name.utf8))
                hash.mix(word: UInt64(status.st_dev))
                hash.mix(word: UInt64(status.st_ino))
                hash.mix(word: UInt64(bitPattern: Int64(status.st_size)))
                hash.mix(word: UInt64(bitPattern: Int64(status.st_mtim.tv_sec)))
                hash.mix(word: UInt64(bitPattern: Int64(status.st_mtim.tv_nsec)))
                hash.mix(word: UInt64(bitPattern: Int64(status.st_ctim.tv_sec)))
                hash.mix(word: UInt64(bitPattern: Int64(status.st_ctim.tv_nsec)))
                // The change time alone: every write sets it to now, and no one can set it
                // (a modification time in the future, from a tarball, must not keep a folder unsettled).
                newest = max(newest, status.st_ctim.tv_sec)
            }
            self.folder = folder
            self.hash = hash.hex
            settled = newest <= time(nil) - settlingTime
        }

        /// The record kept in the cache for these stamps and `fingerprint`.
        func record(_ fingerprint: String) -> String {
            recordHead + fingerprint + "\n"
        }

        /// What a record for these stamps starts with, up to its fingerprint.
        var recordHead: String {
            "cpucompat-folder-stamps 1\nfolder \(folder)\nstamps \(hash)\nfingerprint "
        }
    }

    /// The entry for the stamps of `folder`, named after a hash of its path.
    func entry(forStampsOf folder: String) -> String? {
        var hash = FNV1a64()
        hash.mix(Array(folder.utf8))
        return self.folder.map { FileSystem.join($0, "folder-v1-\(hash.hex).stamps") }
    }

    /// The fingerprint recorded for the folder while its files had exactly `stamps`.
    func fingerprint(of stamps: FolderStamps) -> String? {
        guard let path = entry(forStampsOf: stamps.folder), let body = Self.verifiedEntry(at: path) else { return nil }
        let head = Array(stamps.recordHead.utf8)
        guard body.starts(with: head), body.last == UInt8(ascii: "\n") else { return nil }
        let fingerprint = body[(body.startIndex + head.count)..<(body.endIndex - 1)]
        guard !fingerprint.isEmpty, fingerprint.allSatisfy({ $0 != UInt8(ascii: "\n") }) else { return nil }
        return String(decoding: fingerprint, as: UTF8.self)
    }

    /// Records `fingerprint` for the folder's `stamps`, once they have settled; failures are ignored.
    func store(_ fingerprint: String, of stamps: FolderStamps) {
        guard stamps.settled, let path = entry(forStampsOf: stamps.folder) else { return }
        write(stamps.record(fingerprint), to: path)
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

    /// Mixes in one 64-bit word.
    mutating func mix(word: UInt64) {
        value = (value ^ word) &* 0x100_0000_01b3
    }

    /// The value in hexadecimal.
    var hex: String { String(value, radix: 16) }
}
