#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Small, Foundation-free file access: cpucompat starts in a few
/// milliseconds, and Foundation alone would cost more than that.
enum FileSystem {
    /// The most cpucompat reads from one file: far above any real map or fleet
    /// file (100,000 host CPUs are about 60 MiB), far below what would
    /// exhaust memory (`/dev/zero`).
    static let maximumFileSize = 256 << 20

    /// The whole content of `path`, or of standard input when `path` is `-`.
    ///
    /// Limits come before allocation: a regular file larger than `limit` is
    /// refused from its size, before anything is read; a pipe, FIFO or socket
    /// (standard input, `<(command)`) is read in chunks and refused once it
    /// passes `limit`; a device (`/dev/zero`) or a directory is refused at once.
    ///
    /// - Parameters:
    ///   - path: The file, or `-`.
    ///   - limit: The most to read; `maximumFileSize` but in tests.
    /// - Throws: `CPUCompatError.unreadable` naming the path and the reason
    ///   (missing, permission denied, a directory, a device, too large).
    static func read(_ path: String, limit: Int = maximumFileSize) throws(CPUCompatError) -> [UInt8] {
        var descriptor = path == "-" ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else { throw .unreadable(path: path, reason: describe(errno)) }
        defer { if descriptor != STDIN_FILENO { close(descriptor) } }

        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw .unreadable(path: path, reason: describe(errno)) }
        let tooLarge = tooLarge(path, limit: limit)
        switch status.st_mode & S_IFMT {
        case S_IFDIR:
            throw .unreadable(path: path, reason: "is a directory, not a file")
        case S_IFCHR, S_IFBLK:
            throw .unreadable(path: path, reason: "is a device, not a file")
        case S_IFREG where Int(status.st_size) > limit:
            throw tooLarge
        default:
            break
        }
        // Opened without blocking so that a device is refused before its open
        // can wait; a FIFO is then opened again the usual way, waiting for
        // its writer (read at once, a FIFO without one would seem empty).
        if descriptor != STDIN_FILENO, status.st_mode & S_IFMT == S_IFIFO {
            let blocking = open(path, O_RDONLY | O_CLOEXEC)
            guard blocking >= 0 else { throw .unreadable(path: path, reason: describe(errno)) }
            close(descriptor)
            descriptor = blocking
        } else if descriptor != STDIN_FILENO, status.st_mode & S_IFMT != S_IFREG {
            // O_NONBLOCK does nothing to a regular file's reads (open(2)), so
            // only anything else pays the two calls that clear it.
            _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) & ~O_NONBLOCK)
        }
        let expectedLength = status.st_mode & S_IFMT == S_IFREG && status.st_size > 0 ? Int(status.st_size) : nil
        // Read straight into the array, growing it (doubling, never past the
        // limit) only when the file is larger than it said or is a pipe.
        let capacity = min(expectedLength.map { $0 + 1 } ?? 65536, limit + 1)
        var bytes = [UInt8](repeating: 0, count: capacity)
        var length = 0
        while true {
            if length == bytes.count {
                bytes.append(contentsOf: repeatElement(0, count: min(bytes.count, limit + 1 - bytes.count)))
            }
            var failure: Int32 = 0
            let count = bytes.withUnsafeMutableBytes { raw in
                let result = Glibc.read(descriptor, raw.baseAddress.map { $0 + length }, raw.count - length)
                failure = errno
                return result
            }
            if count == 0 { break }
            if count < 0 {
                if failure == EINTR { continue }
                throw .unreadable(path: path, reason: describe(failure))
            }
            length += count
            if length > limit { throw tooLarge }
            // A regular file read to the size it had when opened needs no
            // further read to find its end; one that grew meanwhile filled
            // the extra byte and is read on to its end.
            if length == expectedLength { break }
        }
        bytes.removeLast(bytes.count - length)
        return bytes
    }

    /// The content of the regular file `path` in pages of its own (see
    /// `PagedBytes`), for files of at least `minimumSize` bytes; nil for
    /// standard input, anything but a regular file, a smaller file, or one
    /// that changes size while read, which `read(_:limit:)` reads instead
    /// (and refuses, where it must, with its reasons).
    ///
    /// - Throws: `CPUCompatError.unreadable` naming the path and the reason.
    static func readPaged(_ path: String, minimumSize: Int, limit: Int = maximumFileSize) throws(CPUCompatError) -> PagedBytes? {
        guard path != "-" else { return nil }
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else { throw .unreadable(path: path, reason: describe(errno)) }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw .unreadable(path: path, reason: describe(errno)) }
        guard status.st_mode & S_IFMT == S_IFREG, Int(status.st_size) >= minimumSize else { return nil }
        guard Int(status.st_size) <= limit else { throw tooLarge(path, limit: limit) }
        do {
            return try PagedBytes.read(descriptor: descriptor, size: Int(status.st_size))
        } catch {
            throw .unreadable(path: path, reason: describe(error.code))
        }
    }

    /// The refusal of a file larger than `limit`.
    private static func tooLarge(_ path: String, limit: Int) -> CPUCompatError {
        .unreadable(path: path, reason: "is larger than \(limit >> 20) MiB")
    }

    /// Whether `path` names a directory.
    static func isDirectory(_ path: String) -> Bool {
        var status = stat()
        return stat(path, &status) == 0 && status.st_mode & S_IFMT == S_IFDIR
    }

    /// Whether `path` is a symbolic link (not followed).
    static func isSymbolicLink(_ path: String) -> Bool {
        var status = stat()
        return lstat(path, &status) == 0 && status.st_mode & S_IFMT == S_IFLNK
    }

    /// Whether `path` exists.
    static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    /// The names in directory `path` in byte order (`LC_ALL=C ls`), without `.` and `..`.
    ///
    /// Byte order is Unicode scalar order, so for the ASCII names of every
    /// cpu_map it is also `String`'s, at a fraction of the cost: listing a map
    /// folder is on the path of every run that uses the installed map.
    static func contents(ofDirectory path: String) throws(CPUCompatError) -> [String] {
        guard let directory = opendir(path) else { throw .unreadable(path: path, reason: describe(errno)) }
        defer { closedir(directory) }
        // The names side by side in one buffer, sorted as places in it: moving
        // integers is cheap where moving arrays costs reference counting. A
        // place is the offset shifted past the length's 16 bits; plain Ints,
        // as an array of ranges would be a generic type whose first use
        // alone costs more than the listing.
        var bytes: [UInt8] = []
        var names: [Int] = []
        while let entry = readdir(directory) {
            withUnsafeBytes(of: entry.pointee.d_name) { raw in
                guard let start = raw.baseAddress else { return }
                let length = strnlen(start, raw.count)
                let isDotOrDotDot = (length == 1 || length == 2) && raw.prefix(length).allSatisfy { $0 == UInt8(ascii: ".") }
                guard !isDotOrDotDot else { return }
                names.append(bytes.count << 16 | length)
                bytes.append(contentsOf: raw.prefix(length))
            }
        }
        return bytes.withUnsafeBufferPointer { buffer in
            guard let start = buffer.baseAddress else { return [] }
            names.sort { first, second in
                let order = memcmp(start + first >> 16, start + second >> 16, min(first & 0xFFFF, second & 0xFFFF))
                return order != 0 ? order < 0 : first & 0xFFFF < second & 0xFFFF
            }
            return names.map { String(decoding: buffer[($0 >> 16)..<(($0 >> 16) + ($0 & 0xFFFF))], as: UTF8.self) }
        }
    }

    /// The reason for `code`, as the C library words it, lower-cased like a diagnostic.
    static func describe(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "error \(code)" }
        let message = String(cString: text)
        return message.prefix(1).lowercased() + message.dropFirst()
    }

    /// The environment variable `name`, if set and not empty.
    static func environment(_ name: String) -> String? {
        guard let value = getenv(name) else { return nil }
        let string = String(cString: value)
        return string.isEmpty ? nil : string
    }

    /// Makes the folder `path` unless it is one already (its parent must exist).
    ///
    /// - Throws: `CPUCompatError.unwritable` with the reason.
    static func makeFolder(_ path: String) throws(CPUCompatError) {
        guard !isDirectory(path) else { return }
        if mkdir(path, 0o755) != 0 { throw .unwritable(path: path, reason: "cannot create the folder: " + describe(errno)) }
    }

    /// The absolute path of `path` with every link resolved, or nil when it does not exist.
    static func canonicalPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// `path` joined to `name` with one slash.
    static func join(_ path: String, _ name: String) -> String {
        path.hasSuffix("/") ? path + name : path + "/" + name
    }
}
