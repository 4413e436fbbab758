#if canImport(Glibc)
import Glibc
#endif
internal import CExtendedAttributes

/// Rewrites files so that a reader, a crash or a concurrent writer only ever
/// sees the old content or the complete new content.
package enum SafeFileUpdate {
    /// Replaces the content of `path` with `transform(old content)`.
    ///
    /// The file is locked (`flock`) while it is read, transformed and
    /// replaced, so concurrent updates run one after the other. The new
    /// content goes to a temporary file in the same folder, which is given
    /// the original's owner (when run as root), every mode bit (set-uid and
    /// set-gid included) and extended attributes (user, security, trusted;
    /// POSIX ACLs are stored as such), flushed (`fsync`) and renamed over the
    /// original; then the folder is flushed. If `transform` throws or any step
    /// fails, the original stays as it was and no temporary file is left
    /// behind. Temporary files of this file that killed runs left (older than
    /// a minute) are removed while the lock is held. Other hard links to the
    /// file keep the old content (a note says so): only a rename is atomic.
    ///
    /// - Parameters:
    ///   - path: The file to update.
    ///   - followSymlinks: Write through a symbolic link to its target; without
    ///     it, a link is refused rather than replaced by a regular file.
    ///   - backupSuffix: If given, the previous content is kept as `path + backupSuffix`.
    ///   - transform: Computes the new content from the old.
    /// - Returns: The old and the new content, and notes on what could not be
    ///   kept (an extended attribute the file system refused).
    /// - Throws: `CPUCompatError` naming the file, or what `transform` throws.
    @discardableResult
    package static func update(_ path: String, followSymlinks: Bool = false, backupSuffix: String? = nil,
                              transform: ([UInt8]) throws(CPUCompatError) -> [UInt8]) throws(CPUCompatError)
        -> (old: [UInt8], new: [UInt8], notes: [String]) {
        try update(path, followSymlinks: followSymlinks, backupSuffix: backupSuffix, syscalls: .live, transform: transform)
    }

    /// `update(_:followSymlinks:backupSuffix:transform:)` through the given system calls.
    @discardableResult
    static func update(_ path: String, followSymlinks: Bool, backupSuffix: String?, syscalls: FileUpdateSyscalls,
                       transform: ([UInt8]) throws(CPUCompatError) -> [UInt8]) throws(CPUCompatError)
        -> (old: [UInt8], new: [UInt8], notes: [String]) {
        let target = try resolveTarget(path, followSymlinks: followSymlinks)
        // Only a regular file can be replaced, and only one within the size
        // limit is read: checked before opening (a FIFO would block the open).
        var kind = stat()
        guard stat(target, &kind) == 0 else { throw .unreadable(path: path, reason: FileSystem.describe(errno)) }
        guard kind.st_mode & S_IFMT == S_IFREG else {
            throw .unwritable(path: path, reason: "is not a regular file, so it cannot be rewritten in place")
        }
        let (descriptor, status) = try openLocked(target)
        defer { close(descriptor) }  // closing releases the lock
        guard Int(status.st_size) <= FileSystem.maximumFileSize else {
            throw .unreadable(path: path, reason: "is larger than \(FileSystem.maximumFileSize >> 20) MiB")
        }
        removeStaleTemporaryFiles(of: target)
        let old = try readAll(descriptor, path: path)
        let new = try transform(old)
        guard new != old else { return (old, new, []) }
        var notes: [String] = []
        if status.st_nlink > 1 {
            // Rewriting in place would change every name at once, but not
            // atomically; a rename keeps the guarantee, and the other names.
            let others = Int(status.st_nlink) - 1
            notes.append("\(path) had \(others) other hard link\(others == 1 ? "" : "s"), which keep\(others == 1 ? "s" : "") the old content: "
                         + "the file was replaced, not rewritten")
        }
        if let backupSuffix {
            notes += try writeReplacing(target + backupSuffix, with: old, mode: status.st_mode, owner: status,
                                        attributesFrom: descriptor, syscalls: syscalls)
        }
        do {
            notes += try writeReplacing(target, with: new, mode: status.st_mode, owner: status,
                                        attributesFrom: descriptor, syscalls: syscalls)
        } catch {
            guard let backupSuffix, case let .unwritable(failedPath, reason) = error else { throw error }
            throw .unwritable(path: failedPath, reason: "\(reason); it is unchanged, and \(target + backupSuffix) holds the same content")
        }
        return (old, new, notes)
    }

    /// Writes `bytes` to `path`. A new or regular file is written through a
    /// flushed temporary file and a rename: an existing one keeps its mode and
    /// owner, a new one gets 0666 less the umask. What is not a regular file
    /// is never replaced: a FIFO, a character device or a socket, or a link
    /// to one (`/dev/stdout` onto a pipe or a terminal), is written through;
    /// a symbolic link to a regular file is followed only with
    /// `followSymlinks`; a directory or a block device is refused.
    ///
    /// - Parameters:
    ///   - bytes: The content.
    ///   - path: Where to write it.
    ///   - followSymlinks: Write to a link's target instead of refusing the link.
    /// - Throws: `CPUCompatError.unwritable` naming the path and the reason.
    package static func write(_ bytes: [UInt8], to path: String, followSymlinks: Bool = false) throws(CPUCompatError) {
        try write(bytes, to: path, followSymlinks: followSymlinks, syscalls: .live)
    }

    /// `write(_:to:followSymlinks:)` through the given system calls.
    static func write(_ bytes: [UInt8], to path: String, followSymlinks: Bool, syscalls: FileUpdateSyscalls) throws(CPUCompatError) {
        var link = stat(), target = stat()
        var path = path
        if lstat(path, &link) == 0, link.st_mode & S_IFMT == S_IFLNK {
            // A link to a stream is written through (opening follows it); only
            // a link to a file that would be replaced needs followSymlinks.
            if stat(path, &target) == 0, [S_IFIFO, S_IFCHR, S_IFSOCK].contains(target.st_mode & S_IFMT) {
                return try writeThrough(bytes, to: path, syscalls: syscalls)
            }
            path = try resolveTarget(path, followSymlinks: followSymlinks)
        }
        var status = stat()
        let existing = stat(path, &status) == 0
        if existing {
            switch status.st_mode & S_IFMT {
            case S_IFREG:
                break
            case S_IFIFO, S_IFCHR, S_IFSOCK:
                return try writeThrough(bytes, to: path, syscalls: syscalls)
            default:
                throw .unwritable(path: path, reason: "is neither a regular file nor a stream (a directory or a block device)")
            }
        }
        let mask = umask(0)
        umask(mask)
        try writeReplacing(path, with: bytes, mode: existing ? status.st_mode : 0o666 & ~mask, owner: existing ? status : nil,
                           syscalls: syscalls)
    }

    /// Writes to what `path` names (a FIFO, a device) without replacing it.
    private static func writeThrough(_ bytes: [UInt8], to path: String, syscalls: FileUpdateSyscalls) throws(CPUCompatError) {
        let descriptor = open(path, O_WRONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .unwritable(path: path, reason: FileSystem.describe(errno)) }
        if let failure = writeAll(bytes, to: descriptor, syscalls: syscalls) {
            close(descriptor)
            throw .unwritable(path: path, reason: FileSystem.describe(failure))
        }
        guard close(descriptor) == 0 else { throw .unwritable(path: path, reason: FileSystem.describe(errno)) }
    }

    /// Writes all of `bytes`, retrying short writes and interruptions; a write
    /// that writes nothing is a failure (EIO), not a reason to loop.
    ///
    /// - Returns: nil, or the `errno` of the failure.
    private static func writeAll(_ bytes: [UInt8], to descriptor: Int32, syscalls: FileUpdateSyscalls) -> Int32? {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { raw in syscalls.write(descriptor, raw.baseAddress.map { $0 + offset }, raw.count - offset) }
            if written <= 0 {
                if written < 0, errno == EINTR { continue }
                return written == 0 ? EIO : errno
            }
            offset += written
        }
        return nil
    }

    /// The folder holding `path` and the file's name in it.
    private static func folderAndName(_ path: String) -> (folder: String, name: String) {
        let slash = path.lastIndex(of: "/")
        let folder = slash.map { String(path[..<$0]) }.map { $0.isEmpty ? "/" : $0 } ?? "."
        return (folder, slash.map { String(path[path.index(after: $0)...]) } ?? path)
    }

    private static func resolveTarget(_ path: String, followSymlinks: Bool) throws(CPUCompatError) -> String {
        var status = stat()
        guard lstat(path, &status) == 0 else { throw .unreadable(path: path, reason: FileSystem.describe(errno)) }
        if status.st_mode & S_IFMT == S_IFLNK {
            guard followSymlinks else {
                throw .unwritable(path: path, reason: "is a symbolic link; --follow-symlinks writes through it to its target")
            }
            guard let resolved = realpath(path, nil) else { throw .unreadable(path: path, reason: FileSystem.describe(errno)) }
            defer { free(resolved) }
            return String(cString: resolved)
        }
        guard status.st_mode & S_IFMT == S_IFREG else { throw .unwritable(path: path, reason: "is not a regular file") }
        return path
    }

    /// Opens and locks `path`, making sure the lock is on the file the path
    /// names now, not on one a concurrent writer has just replaced.
    private static func openLocked(_ path: String) throws(CPUCompatError) -> (Int32, stat) {
        while true {
            let descriptor = open(path, O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0 else { throw .unreadable(path: path, reason: FileSystem.describe(errno)) }
            var locked: Int32
            repeat { locked = flock(descriptor, LOCK_EX) } while locked != 0 && errno == EINTR
            var held = stat(), current = stat()
            if locked == 0, fstat(descriptor, &held) == 0, stat(path, &current) == 0,
               held.st_dev == current.st_dev, held.st_ino == current.st_ino {
                return (descriptor, held)
            }
            let failure = errno
            close(descriptor)
            if locked != 0 { throw .unwritable(path: path, reason: "cannot lock: \(FileSystem.describe(failure))") }
        }
    }

    private static func readAll(_ descriptor: Int32, path: String) throws(CPUCompatError) -> [UInt8] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count == 0 { return bytes }
            if count < 0 {
                if errno == EINTR { continue }
                throw .unreadable(path: path, reason: FileSystem.describe(errno))
            }
            bytes += chunk[..<count]
            if bytes.count > FileSystem.maximumFileSize {
                throw .unreadable(path: path, reason: "is larger than \(FileSystem.maximumFileSize >> 20) MiB")
            }
        }
    }

    /// Replaces `path` by a new file holding `bytes`, with `mode`, `owner` and
    /// the extended attributes of the file open as `attributesFrom`.
    ///
    /// - Returns: Notes on attributes that could not be kept.
    @discardableResult
    private static func writeReplacing(_ path: String, with bytes: [UInt8], mode: mode_t, owner: stat?,
                                       attributesFrom source: Int32? = nil,
                                       syscalls: FileUpdateSyscalls) throws(CPUCompatError) -> [String] {
        var notes: [String] = []
        let (folder, name) = folderAndName(path)
        var template = Array(FileSystem.join(folder, ".\(name).cpucompat-XXXXXX").utf8CString)
        let descriptor = template.withUnsafeMutableBufferPointer { buffer in buffer.baseAddress.map { mkstemp($0) } ?? -1 }
        // Not inherited by the processes `collect` runs meanwhile (Glibc's module has no mkostemp).
        if descriptor >= 0 { _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC) }
        guard descriptor >= 0 else { throw .unwritable(path: path, reason: FileSystem.describe(errno)) }
        let temporary = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        var committed = false
        defer {
            if !committed { unlink(temporary) }
        }
        do {
            defer { close(descriptor) }
            if let failure = writeAll(bytes, to: descriptor, syscalls: syscalls) {
                throw CPUCompatError.unwritable(path: path, reason: FileSystem.describe(failure))
            }
            // Owner first: changing the owner clears the set-uid and set-gid bits, which fchmod then restores.
            if let owner, geteuid() == 0, syscalls.fchown(descriptor, owner.st_uid, owner.st_gid) != 0 {
                throw CPUCompatError.unwritable(path: path, reason: FileSystem.describe(errno))
            }
            guard syscalls.fchmod(descriptor, mode & 0o7777) == 0 else {
                throw CPUCompatError.unwritable(path: path, reason: FileSystem.describe(errno))
            }
            if let source {
                notes += copyExtendedAttributes(from: source, to: descriptor).map {
                    "\(path): could not keep the extended attribute \($0.name) (\($0.reason))"
                }
            }
            guard syscalls.fsync(descriptor) == 0 else { throw CPUCompatError.unwritable(path: path, reason: FileSystem.describe(errno)) }
        }
        guard syscalls.rename(temporary, path) == 0 else { throw .unwritable(path: path, reason: FileSystem.describe(errno)) }
        committed = true
        let folderDescriptor = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if folderDescriptor >= 0 {
            fsync(folderDescriptor)
            close(folderDescriptor)
        }
        return notes
    }

    /// Copies every extended attribute of `source` to `destination`.
    ///
    /// - Returns: The attributes that could not be copied, with the reason.
    private static func copyExtendedAttributes(from source: Int32, to destination: Int32) -> [(name: String, reason: String)] {
        let size = flistxattr(source, nil, 0)
        guard size > 0 else { return [] }
        var list = [CChar](repeating: 0, count: size)
        let listed = flistxattr(source, &list, size)
        guard listed > 0 else { return [] }
        var failures: [(String, String)] = []
        for nameBytes in list[..<listed].split(separator: 0) {
            let name = String(decoding: nameBytes.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let length = fgetxattr(source, name, nil, 0)
            guard length >= 0 else {
                failures.append((name, FileSystem.describe(errno)))
                continue
            }
            var value = [UInt8](repeating: 0, count: max(length, 1))
            let read = fgetxattr(source, name, &value, length)
            if read < 0 || fsetxattr(destination, name, value, max(read, 0), 0) != 0 {
                failures.append((name, FileSystem.describe(errno)))
            }
        }
        return failures
    }

    /// Removes temporary files of `path` (`.NAME.cpucompat-XXXXXX`) that runs
    /// killed before they could remove them left, if older than a minute (a
    /// younger one may belong to a run still writing `--output` there).
    private static func removeStaleTemporaryFiles(of path: String) {
        let (folder, name) = folderAndName(path)
        let prefix = ".\(name).cpucompat-"
        guard let names = try? FileSystem.contents(ofDirectory: folder) else { return }
        let now = time(nil)
        for entry in names where entry.hasPrefix(prefix) && entry.count == prefix.count + 6 {
            let stale = FileSystem.join(folder, entry)
            var status = stat()
            if lstat(stale, &status) == 0, status.st_mode & S_IFMT == S_IFREG, now - status.st_mtim.tv_sec > 60 {
                unlink(stale)
            }
        }
    }
}