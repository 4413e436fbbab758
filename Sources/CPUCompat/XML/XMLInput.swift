#if canImport(Glibc)
import Glibc
#endif

/// Checks made on a document's bytes before libxml2 reads them.
enum XMLInput {
    /// libvirt never writes a DOCTYPE, and a DOCTYPE is how entity bombs and
    /// external entities get in, so any DOCTYPE is refused before libxml2
    /// reads it (and, should one slip past this scan, after parsing too).
    static let refusedDoctype = "a DOCTYPE is not accepted (cpucompat reads libvirt XML, which has none)"

    /// Refuses, before libxml2 sees them, an empty document, one with a
    /// DOCTYPE, and one with a start tag of more than `maximumAttributes` attributes.
    static func check(_ bytes: [UInt8], path: String, maximumAttributes: Int = maximumAttributes) throws(CPUCompatError) {
        try bytes.withUnsafeBufferPointer { buffer throws(CPUCompatError) in try check(buffer, path: path, maximumAttributes: maximumAttributes) }
    }

    /// The same for bytes the caller holds.
    static func check(_ bytes: UnsafeBufferPointer<UInt8>, path: String, maximumAttributes: Int = maximumAttributes) throws(CPUCompatError) {
        guard bytes.contains(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }) else {
            throw .malformedXML(path: path, line: nil, message: "the file is empty")
        }
        if let line = doctypeLine(bytes) {
            throw .malformedXML(path: path, line: line, message: refusedDoctype)
        }
        if bytes.count > maximumAttributes * 4, let line = lineOfCrowdedTag(bytes, limit: maximumAttributes) {
            throw .malformedXML(path: path, line: line, message: "a start tag has more than \(grouped(maximumAttributes)) attributes "
                                + "(libvirt's have a few; libxml2 checks them for duplicates in quadratic time)")
        }
    }

    /// The most attributes one start tag may have: libxml2 2.9 compares every
    /// pair of them, so 250,000 take a minute, while 20,000 take a fraction of a second.
    static let maximumAttributes = 20_000

    /// The line of the first start tag with more than `maximumAttributes`
    /// attributes. Each attribute is `=` and a quote (white space allowed
    /// between), and no `<` can occur in a start tag, so counting those
    /// between one `<` and the next bounds every tag's attributes, in one pass.
    private static func lineOfCrowdedTag(_ bytes: UnsafeBufferPointer<UInt8>, limit: Int) -> Int? {
        // memchr hops from one `=` to the next and checks for a `<` in between:
        // a fraction of an instruction per byte, since every file is checked.
        let buffer = UnsafeRawBufferPointer(bytes)
        guard let base = buffer.baseAddress else { return nil }
        let end = buffer.count
        func find(_ byte: UInt8, from start: Int) -> Int {
            guard start < end, let found = memchr(base + start, Int32(byte), end - start) else { return end }
            return base.distance(to: UnsafeRawPointer(found))
        }
        var count = 0
        var nextOpen = find(UInt8(ascii: "<"), from: 0)
        var equals = find(UInt8(ascii: "="), from: 0)
        while equals < end {
            if equals > nextOpen {
                count = 0
                nextOpen = find(UInt8(ascii: "<"), from: equals)
            }
            var next = equals + 1
            while next < end, buffer[next] == 0x20 || buffer[next] == 0x09 || buffer[next] == 0x0A || buffer[next] == 0x0D { next += 1 }
            if next < end, buffer[next] == UInt8(ascii: "'") || buffer[next] == UInt8(ascii: "\"") {
                count += 1
                if count > limit {
                    let tag = buffer[..<equals].lastIndex(of: UInt8(ascii: "<")) ?? 0
                    return 1 + lineBreaks(in: UnsafeBufferPointer(rebasing: bytes[..<tag]))
                }
            }
            equals = find(UInt8(ascii: "="), from: equals + 1)
        }
        return nil
    }

    /// How many line feeds `bytes` hold, found with `memchr`, which scans
    /// many bytes an instruction where a loop in Swift takes several a byte.
    static func lineBreaks(in bytes: UnsafeBufferPointer<UInt8>) -> Int {
        guard var next = bytes.baseAddress else { return 0 }
        let end = next + bytes.count
        var count = 0
        while next < end, let found = memchr(next, 0x0A, end - next) {
            count += 1
            next = UnsafePointer(found.assumingMemoryBound(to: UInt8.self)) + 1
        }
        return count
    }

    /// The offset just past an XML declaration at the start of `bytes`.
    static func declarationEnd<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> Bytes.Index? where Bytes.Index == Int {
        var index = bytes.startIndex
        while index + 1 < bytes.endIndex {
            if bytes[index] == UInt8(ascii: "?"), bytes[index + 1] == UInt8(ascii: ">") { return index + 2 }
            index += 1
        }
        return nil
    }

    /// The line of a `<!DOCTYPE` in the prolog, before the root element.
    private static func doctypeLine(_ bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        var index = 0
        var line = 1
        func skip(until terminator: [UInt8]) {
            while index < bytes.count {
                if bytes[index] == 0x0A { line += 1 }
                if bytes[index...].starts(with: terminator) { index += terminator.count; return }
                index += 1
            }
        }
        while index < bytes.count {
            switch bytes[index] {
            case 0x0A: line += 1; index += 1
            case 0x20, 0x09, 0x0D, 0xEF, 0xBB, 0xBF: index += 1  // white space, UTF-8 byte order mark
            case UInt8(ascii: "<"):
                let rest = bytes[index...]
                if rest.starts(with: Array("<?".utf8)) { skip(until: Array("?>".utf8)) }
                else if rest.starts(with: Array("<!--".utf8)) { skip(until: Array("-->".utf8)) }
                else if rest.starts(with: Array("<!DOCTYPE".utf8)) { return line }
                else { return nil }
            default: return nil
            }
        }
        return nil
    }
}
