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
