import Dispatch
import Synchronization

/// Reads a file of several documents one after another (`cat kvm02.xml
/// kvm03.xml`), each as if it stood alone.
enum ConcatenatedDocuments {
    /// The wrapper element the documents are parsed in, which is not part of any.
    private static let wrapper = "cpucompat-wrapper"

    /// Reads the documents in `bytes` inside a wrapper element.
    ///
    /// - Throws: `CPUCompatError` with the first problem, naming `path`.
    static func read(_ bytes: [UInt8], path: String, lineOffset: Int = 0) throws(CPUCompatError) -> [CPUDefinition] {
        let collector = CPUCollector(path: path, lineOffset: lineOffset, wrapped: true)
        try XMLStreamParser.parse(bytes, path: path, wrapper: wrapper, handler: collector)
        return try collector.finish()
    }

    /// Reads a file of 1 MiB or more as two halves on two threads. The file
    /// is cut before a start tag at the beginning of a line past its middle;
    /// only a cut between documents leaves both halves well-formed, so if
    /// either half fails (for any reason) the result is nil and the caller
    /// reads the whole file, which also gives the authoritative error.
    static func readInHalves(_ bytes: [UInt8], path: String) -> [CPUDefinition]? {
        guard bytes.count >= 1 << 20, let cut = documentBoundary(in: bytes) else { return nil }
        let firstLines = bytes[..<cut].reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
        let halves = [Array(bytes[..<cut]), Array(bytes[cut...])]
        let results = Mutex<[[CPUDefinition]?]>([nil, nil])
        DispatchQueue.concurrentPerform(iterations: 2) { half in
            let definitions = try? read(halves[half], path: path, lineOffset: half == 0 ? 0 : firstLines)
            results.withLock { $0[half] = definitions }
        }
        return results.withLock { slots in
            guard let first = slots[0], let second = slots[1] else { return nil }
            return first + second
        }
    }

    /// The offset of a `<name` at the start of a line after the middle of `bytes`.
    private static func documentBoundary(in bytes: [UInt8]) -> Int? {
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
