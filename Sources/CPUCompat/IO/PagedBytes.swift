#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file's bytes in memory pages of their own (an anonymous mapping),
/// which a reader gives back to the system as it finishes with them.
///
/// A fleet file of 100,000 hosts is about 60 MiB, and the definitions read
/// from it take as much again: giving back each piece once libxml2 has
/// taken its copy keeps the file from being held beside all of them.
/// Reading a given-back byte gives zero, so only bytes no reader will look
/// at again are given back.
final class PagedBytes: @unchecked Sendable {
    // @unchecked: the mapping is written only while the file is read in,
    // before the value is shared; giving pages back is a system call on
    // pages that no one reads any more, safe from several threads.

    /// The file's bytes.
    var bytes: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: mapping.assumingMemoryBound(to: UInt8.self), count: count) }
    private var count = 0
    private let mapping: UnsafeMutableRawPointer
    private let mappedLength: Int
    private static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

    /// Maps `capacity` bytes of zeroed memory, nil when the system has none.
    private init?(capacity: Int) {
        let length = (capacity + Self.pageSize - 1) / Self.pageSize * Self.pageSize
        let address = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let address, address != MAP_FAILED else { return nil }
        mapping = address
        mappedLength = length
    }

    deinit { munmap(mapping, mappedLength) }

    /// Gives back the pages that lie wholly within `range` of `bytes`.
    func giveBack(_ range: Range<Int>) {
        let first = (range.lowerBound + Self.pageSize - 1) / Self.pageSize * Self.pageSize
        let end = range.upperBound / Self.pageSize * Self.pageSize
        guard first < end else { return }
        _ = madvise(mapping + first, end - first, MADV_DONTNEED)
    }

    /// Reads the regular file open as `descriptor`, whose size `size` was
    /// just taken; nil when it grows while being read (one byte more than
    /// `size` is asked for, to tell), or no memory can be mapped: the caller
    /// then reads it the ordinary way. A file that shrank is what was read.
    ///
    /// - Throws: The reason a read failed (`errno`).
    static func read(descriptor: Int32, size: Int) throws(SystemError) -> PagedBytes? {
        guard let file = PagedBytes(capacity: size + 1) else { return nil }
        let base = file.mapping.assumingMemoryBound(to: UInt8.self)
        var length = 0
        while length <= size {
            let count = Glibc.read(descriptor, base + length, size + 1 - length)
            if count == 0 { break }
            if count < 0 {
                if errno == EINTR { continue }
                throw SystemError(code: errno)
            }
            length += count
        }
        // One byte beyond the size read means the file grew.
        guard length <= size else { return nil }
        file.count = length
        return file
    }

    /// A failed system call's `errno`.
    struct SystemError: Error { let code: Int32 }
}
