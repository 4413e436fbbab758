import Dispatch
import Synchronization

/// Reads a file of several documents one after another (`cat kvm02.xml
/// kvm03.xml`), each as if it stood alone.
///
/// The caller has checked the whole file (`XMLInput.check`) and found its
/// first document followed by another; the documents are then parsed inside
/// a wrapper element of our own, given to libxml2 piece by piece.
enum ConcatenatedDocuments {
    /// The wrapper element the documents are parsed in, which is not part of any.
    private static let wrapper = "cpucompat-wrapper"
    /// The smallest file read as two halves on two threads.
    static let halvesThreshold = 1 << 20

    /// Reads the documents in `bytes`.
    ///
    /// - Throws: `CPUCompatError` with the first problem, naming `path`.
    static func read(_ bytes: [UInt8], path: String) throws(CPUCompatError) -> [CPUDefinition] {
        try bytes.withUnsafeBufferPointer { buffer throws(CPUCompatError) in
            if let cut = halvesCut(in: buffer), let definitions = readInHalves(buffer, cut: cut, path: path, giveBack: nil) {
                return definitions
            }
            return try readWhole(buffer, path: path)
        }
    }

    /// Reads the documents of a file held in pages of its own, giving each
    /// piece back once libxml2 has it, so that the file is not held beside
    /// all that is read from it. Should that fail, the pages are gone: the
    /// file is read again, whole and checked again (it may have changed),
    /// for the authoritative result.
    ///
    /// - Throws: `CPUCompatError` with the first problem, naming `path`.
    static func read(_ file: PagedBytes, path: String) throws(CPUCompatError) -> [CPUDefinition] {
        let giveBack: @Sendable (Range<Int>) -> Void = { file.giveBack($0) }
        if let cut = halvesCut(in: file.bytes) {
            if let definitions = readInHalves(file.bytes, cut: cut, path: path, giveBack: giveBack) { return definitions }
        } else if let definitions = try? read(file.bytes, path: path, lineOffset: 0, given: { giveBack(0..<$0) }) {
            return definitions
        }
        let again = try FileSystem.read(path)
        return try again.withUnsafeBufferPointer { buffer throws(CPUCompatError) in
            try XMLInput.check(buffer, path: path)
            return try readWhole(buffer, path: path)
        }
    }

    /// Reads `bytes` whole, on one thread: the authoritative result.
    ///
    /// - Throws: The first problem; a DOCTYPE in a later document is refused
    ///   for what it is, where libxml2 would call it bad element content.
    private static func readWhole(_ bytes: UnsafeBufferPointer<UInt8>, path: String) throws(CPUCompatError) -> [CPUDefinition] {
        do {
            return try read(bytes, path: path, lineOffset: 0, given: { _ in })
        } catch {
            guard case let .malformedXML(_, line, message) = error else { throw error }
            if let doctype = doctypeLine(in: bytes) {
                throw .malformedXML(path: path, line: doctype, message: XMLInput.refusedDoctype)
            }
            throw .malformedXML(path: path, line: line, message: withoutWrapper(message))
        }
    }

    /// libxml2's message for a tag that does not match, said without naming
    /// the wrapper element, which is not in the file.
    private static func withoutWrapper(_ message: String) -> String {
        let mismatch = "Opening and ending tag mismatch: "
        guard message.hasPrefix(mismatch), message.contains(wrapper) else { return message }
        let parts = message.dropFirst(mismatch.count).split(separator: " ")
        // "W line 1 and NAME": an end tag with no element open.
        if parts.count == 5, parts[0] == wrapper, parts[3] == "and" {
            return "an end tag </\(parts[4])> closes no element"
        }
        // "NAME line N and W": the file ends with NAME open.
        if parts.count == 5, parts[4] == wrapper, parts[1] == "line" {
            return "the file ends inside <\(parts[0])> of line \(parts[2]): it is cut short"
        }
        return message
    }

    /// Reads `bytes`, whose first line is line `lineOffset + 1` of the file,
    /// telling `given` how many of them libxml2 has been given.
    private static func read(_ bytes: UnsafeBufferPointer<UInt8>, path: String, lineOffset: Int,
                             given: (Int) -> Void) throws(CPUCompatError) -> [CPUDefinition] {
        let collector = CPUCollector(path: path, lineOffset: lineOffset, wrapped: true)
        try XMLStreamParser.parseWrapped(bytes, path: path, in: wrapper, given: given, handler: collector)
        return try collector.finish()
    }

    /// The line of the first `<!DOCTYPE` in `bytes`, if any.
    private static func doctypeLine(in bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        var offset = 0
        while let found = bytes[offset...].firstIndex(of: UInt8(ascii: "<")) {
            if bytes[found...].starts(with: "<!DOCTYPE".utf8) {
                return 1 + XMLInput.lineBreaks(in: UnsafeBufferPointer(rebasing: bytes[..<found]))
            }
            offset = found + 1
        }
        return nil
    }

    /// Where to cut a file of `halvesThreshold` bytes or more to read it as
    /// two halves on two threads: before a start tag at the beginning of a
    /// line past its middle; nil for a smaller file, or one with no such line.
    private static func halvesCut(in bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        bytes.count >= halvesThreshold ? documentBoundary(in: bytes) : nil
    }

    /// Reads `bytes` as two halves, cut at `cut`, on two threads. Only a cut
    /// between documents leaves both halves well-formed, so if either half
    /// fails (for any reason) the result is nil and the caller reads the
    /// whole file, which also gives the authoritative error.
    private static func readInHalves(_ bytes: UnsafeBufferPointer<UInt8>, cut: Int, path: String,
                                     giveBack: (@Sendable (Range<Int>) -> Void)?) -> [CPUDefinition]? {
        let firstLines = XMLInput.lineBreaks(in: UnsafeBufferPointer(rebasing: bytes[..<cut]))
        let results = Mutex<[[CPUDefinition]?]>([nil, nil])
        // The halves are read where they lie in `bytes`, which nothing writes
        // while both threads read: no copy of either.
        nonisolated(unsafe) let halves = [UnsafeBufferPointer(rebasing: bytes[..<cut]), UnsafeBufferPointer(rebasing: bytes[cut...])]
        DispatchQueue.concurrentPerform(iterations: 2) { half in
            let start = half == 0 ? 0 : cut
            let definitions = try? read(halves[half], path: path, lineOffset: half == 0 ? 0 : firstLines,
                                        given: { count in giveBack?(start..<start + count) })
            results.withLock { $0[half] = definitions }
        }
        return results.withLock { slots in
            guard var first = slots[0].take(), let second = slots[1].take() else { return nil }
            // Each half's array is released as soon as it is appended.
            first.reserveCapacity(first.count + second.count)
            first += second
            return first
        }
    }

    /// The offset of a `<name` at the start of a line after the middle of `bytes`.
    private static func documentBoundary(in bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        var index = bytes.count / 2
        while index + 2 < bytes.count {
            if bytes[index] == 0x0A, bytes[index + 1] == UInt8(ascii: "<"),
               ![UInt8(ascii: "/"), UInt8(ascii: "!"), UInt8(ascii: "?")].contains(bytes[index + 2]) {
                return index + 1
            }
            index += 1
        }
        return nil
    }
}
