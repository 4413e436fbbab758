#if canImport(Glibc)
import Glibc
#endif

/// The system calls by which `SafeFileUpdate` commits a new file: one seam,
/// so that tests can make each of them fail and check that the original file
/// is untouched and the message is right (the way swift-system routes its
/// calls through one file). Each returns what the C call returns, with
/// `errno` set on failure.
struct FileUpdateSyscalls: Sendable {
    var write: @Sendable (_ descriptor: Int32, _ bytes: UnsafeRawPointer?, _ count: Int) -> Int
    var fchmod: @Sendable (_ descriptor: Int32, _ mode: mode_t) -> Int32
    var fchown: @Sendable (_ descriptor: Int32, _ owner: uid_t, _ group: gid_t) -> Int32
    var fsync: @Sendable (_ descriptor: Int32) -> Int32
    var rename: @Sendable (_ from: String, _ to: String) -> Int32

    /// The real calls.
    static let live = FileUpdateSyscalls(
        write: { Glibc.write($0, $1, $2) },
        fchmod: { Glibc.fchmod($0, $1) },
        fchown: { Glibc.fchown($0, $1, $2) },
        fsync: { Glibc.fsync($0) },
        rename: { Glibc.rename($0, $1) })
}
