import Foundation
import Testing
@testable import CPUCompat

// Failure paths of SafeFileUpdate, made deterministic through its system-call
// seam: each call that commits the new file fails in turn, and the original
// must be byte for byte as it was, no temporary file may be left, and the
// message must name the file and the reason. (KillTests kill real runs too.)

/// The live calls, with `name` failing with `code`.
private func failing(_ name: String, _ code: Int32) -> FileUpdateSyscalls {
    var calls = FileUpdateSyscalls.live
    switch name {
    case "write": calls.write = { _, _, _ in errno = code; return -1 }
    case "fchmod": calls.fchmod = { _, _ in errno = code; return -1 }
    case "fchown": calls.fchown = { _, _, _ in errno = code; return -1 }
    case "fsync": calls.fsync = { _ in errno = code; return -1 }
    case "rename": calls.rename = { _, _ in errno = code; return -1 }
    default: preconditionFailure("no system call \(name)")
    }
    return calls
}

@Suite struct FileUpdateFailureTests {
    static let original = Array("<domain type='kvm'>\n  <name>g</name>\n</domain>\n".utf8)

    /// fchown is only called as root (it keeps the owner of a file root rewrites).
    static let calls = ["write", "fchmod", "fsync", "rename"] + (geteuid() == 0 ? ["fchown"] : [])

    @Test(arguments: calls)
    func aFailingCallLeavesTheOriginalAndNoTemporaryFile(call: String) throws {
        let folder = makeScratchDirectory()
        defer { removeTree(folder) }
        let path = folder + "/guest.xml"
        try Data(Self.original).write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: CPUCompatError.self) {
            try SafeFileUpdate.update(path, followSymlinks: false, backupSuffix: nil, syscalls: failing(call, ENOSPC)) { old in
                old + Array("<!-- changed -->\n".utf8)
            }
        }
        #expect(error?.description == "\(path): no space left on device", "\(call)")
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: path))) == Self.original, "\(call)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["guest.xml"], "\(call) left a file")
    }

    /// A new file has no owner to keep, so no fchown.
    @Test(arguments: ["write", "fchmod", "fsync", "rename"])
    func aFailingCallWritingANewFileLeavesNothing(call: String) throws {
        let folder = makeScratchDirectory()
        defer { removeTree(folder) }
        let path = folder + "/new.xml"
        let error = #expect(throws: CPUCompatError.self) {
            try SafeFileUpdate.write(Self.original, to: path, followSymlinks: false, syscalls: failing(call, EIO))
        }
        #expect(error?.description == "\(path): input/output error", "\(call)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).isEmpty, "\(call) left a file")
    }

    @Test func aWriteThatWritesNothingIsAFailureNotALoop() throws {
        let folder = makeScratchDirectory()
        defer { removeTree(folder) }
        var calls = FileUpdateSyscalls.live
        calls.write = { _, _, _ in 0 }
        let error = #expect(throws: CPUCompatError.self) {
            try SafeFileUpdate.write(Self.original, to: folder + "/new.xml", followSymlinks: false, syscalls: calls)
        }
        #expect(error?.description == "\(folder)/new.xml: input/output error")
    }

    @Test func aFailingWriteThroughAFIFOSaysSo() throws {
        let folder = makeScratchDirectory()
        defer { removeTree(folder) }
        let fifo = folder + "/fifo"
        try #require(mkfifo(fifo, 0o600) == 0)
        // A reader, so the open for writing does not wait.
        let reader = open(fifo, O_RDONLY | O_NONBLOCK)
        defer { close(reader) }
        let error = #expect(throws: CPUCompatError.self) {
            try SafeFileUpdate.write(Self.original, to: fifo, followSymlinks: false, syscalls: failing("write", EPIPE))
        }
        #expect(error?.description == "\(fifo): broken pipe")
    }

    @Test(.enabled(if: geteuid() == 0, "keeping another owner needs root: SKIPPED"))
    func setUIDAndSetGIDBitsSurviveAnUpdateAsRoot() throws {
        let folder = makeScratchDirectory()
        defer { removeTree(folder) }
        let path = folder + "/guest.xml"
        try Data(Self.original).write(to: URL(fileURLWithPath: path))
        try #require(chown(path, 1000, 1000) == 0 && chmod(path, 0o6775) == 0)
        try SafeFileUpdate.update(path) { old in old + Array("<!-- changed -->\n".utf8) }
        var status = stat()
        try #require(stat(path, &status) == 0)
        #expect(status.st_mode & 0o7777 == 0o6775)
        #expect(status.st_uid == 1000 && status.st_gid == 1000)
    }
}

/// Runs python3 (installed with the toolchain's machine and CI's) for the
/// extended-attribute calls Swift's Glibc module does not import.
private func python(_ code: String, _ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", code] + arguments
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
}

@Suite struct FileUpdateKeepsTheFileTests {
    @Test func extendedAttributesAreKept() throws {
        let folder = makeScratchDirectory()
        defer { removeTree(folder) }
        let path = folder + "/guest.xml"
        try Data(FileUpdateFailureTests.original).write(to: URL(fileURLWithPath: path))
        _ = try python("import os, sys; os.setxattr(sys.argv[1], 'user.cpucompat', b'kept')", [path])
        let result = try SafeFileUpdate.update(path, backupSuffix: ".orig") { old in old + Array("<!-- changed -->\n".utf8) }
        #expect(result.notes.isEmpty, "\(result.notes)")
        let read = "import os, sys; print(os.getxattr(sys.argv[1], 'user.cpucompat').decode())"
        #expect(try python(read, [path]) == "kept\n")
        #expect(try python(read, [path + ".orig"]) == "kept\n", "the backup keeps them too")
    }

    @Test func staleTemporaryFilesOfKilledRunsAreRemovedUnderTheLock() throws {
        let folder = makeScratchDirectory()
        defer { removeTree(folder) }
        let path = folder + "/guest.xml"
        try Data(FileUpdateFailureTests.original).write(to: URL(fileURLWithPath: path))
        let stale = folder + "/.guest.xml.cpucompat-AbC123", fresh = folder + "/.guest.xml.cpucompat-XyZ789"
        let other = folder + "/.other.xml.cpucompat-AbC123"
        for leftover in [stale, fresh, other] { write("partial", to: leftover) }
        var old = [timespec(tv_sec: time(nil) - 3600, tv_nsec: 0), timespec(tv_sec: time(nil) - 3600, tv_nsec: 0)]
        try #require(utimensat(AT_FDCWD, stale, &old, 0) == 0 && utimensat(AT_FDCWD, other, &old, 0) == 0)
        try SafeFileUpdate.update(path) { old in old + Array("<!-- changed -->\n".utf8) }
        let left = Set(try FileManager.default.contentsOfDirectory(atPath: folder))
        #expect(!left.contains(".guest.xml.cpucompat-AbC123"), "an hour-old leftover of this file is removed")
        #expect(left.contains(".guest.xml.cpucompat-XyZ789"), "a fresh one may be a run still writing")
        #expect(left.contains(".other.xml.cpucompat-AbC123"), "another file's are not ours to remove")
    }

    @Test func aFailedWriteAfterTheBackupSaysWhereEverythingIs() throws {
        let folder = makeScratchDirectory()
        defer { removeTree(folder) }
        let path = folder + "/guest.xml"
        try Data(FileUpdateFailureTests.original).write(to: URL(fileURLWithPath: path))
        // The backup's rename succeeds, the main file's fails.
        var calls = FileUpdateSyscalls.live
        let renames = Counter()
        calls.rename = { from, to in
            renames.increment() == 1 ? FileUpdateSyscalls.live.rename(from, to) : { errno = EROFS; return -1 }()
        }
        let error = #expect(throws: CPUCompatError.self) {
            try SafeFileUpdate.update(path, followSymlinks: false, backupSuffix: ".orig", syscalls: calls) { old in
                old + Array("<!-- changed -->\n".utf8)
            }
        }
        #expect(error?.description == "\(path): read-only file system; it is unchanged, and \(path).orig holds the same content")
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: path))) == FileUpdateFailureTests.original)
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: path + ".orig"))) == FileUpdateFailureTests.original)
    }
}

/// A count shared with a `@Sendable` closure.
private final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func increment() -> Int { lock.withLock { value += 1; return value } }
}
