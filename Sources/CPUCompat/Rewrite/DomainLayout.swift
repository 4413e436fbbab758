#if canImport(Glibc)
import Glibc
#endif

/// A domain definition's bytes and where its parts sit in them, from one
/// libxml2 parse: the same events that say what an element is say which
/// bytes it occupies, so a splice edits exactly the `<cpu>` libxml2 saw.
///
/// The domain is read the way libvirt reads one: as UTF-8 whatever its XML
/// declaration says, the root's local name `domain` in any namespace, its
/// elements in no namespace, and `<cpu>` the child of the root.
struct DomainLayout {
    /// The bytes of one element.
    struct Span: Equatable {
        /// The offset of the `<` that opens the start tag.
        var start: Int
        /// The offset just past the start tag's `>` (or `/>`).
        var startTagEnd: Int
        /// The offset just past the element's last byte.
        var end: Int

        var range: Range<Int> { start..<end }
        /// Whether the element is written `<x …/>`.
        var isEmptyElement: Bool { startTagEnd == end }
    }

    /// A child element of `<domain>`.
    struct Child {
        /// The local name.
        var name: String
        /// Whether the element is in no namespace (only those are libvirt's).
        var isLibvirts: Bool
        var span: Span
        var line: Int
    }

    /// An attribute as written: `name` is `prefix:local` or `local`.
    struct Attribute: Equatable {
        var name: String
        var value: String
        var isPrefixed: Bool
    }

    /// The domain's `<cpu>` as written.
    struct ExistingCPU {
        /// A piece of markup inside `<cpu>`, in document order.
        enum Part {
            /// A child element; `name` is its local name, `isLibvirts` false when it is in a namespace.
            case element(name: String, isLibvirts: Bool, attributes: [Attribute], span: Span)
            /// A comment or a processing instruction.
            case other(Range<Int>)
        }

        var span: Span
        var line: Int
        var attributes: [Attribute]
        /// The namespaces its start tag declares (a nil prefix for a default namespace).
        var namespaceDeclarations: [(prefix: String?, uri: String)]
        var parts: [Part]
    }

    let bytes: [UInt8]
    var root: Span
    var rootLine: Int
    var children: [Child]
    /// The `<cpu>` child libvirt reads, if there is one.
    var cpu: ExistingCPU?
    /// Lines of `<cpu>` children in a namespace: libvirt ignores them, and so does the patch.
    var foreignCPULines: [Int]

    /// Reads the layout of the domain in `bytes`.
    ///
    /// - Throws: `CPUCompatError.malformedXML` for bytes libvirt would not
    ///   read (not UTF-8, a NUL byte, not well-formed) and `.invalidCPU` for
    ///   a document that is not a domain libvirt would accept (another root,
    ///   a default namespace, no content, more than one `<cpu>`).
    ///
    /// - Parameter extraAttributes: How many attributes a start tag may have
    ///   beyond the usual limit (a patched `<cpu>` gains `match` and `check`).
    static func read(_ bytes: [UInt8], path: String, extraAttributes: Int = 0) throws(CPUCompatError) -> DomainLayout {
        try checkEncoding(bytes, path: path)
        let reader = DomainLayoutReader(bytes: bytes)
        try XMLStreamParser.parse(bytes, path: path, encoding: .utf8,
                                  maximumAttributes: XMLInput.maximumAttributes + extraAttributes, handler: reader)
        if reader.lostTrack {
            throw .invalidCPU(path: path, line: nil, message: "cannot tell where the elements of <domain> start and end "
                                + "(please report this file to cpucompat)")
        }
        guard let root = reader.root, let rootStart = reader.rootStart else {
            throw .invalidCPU(path: path, line: nil, message: "not a domain definition (no root element)")
        }
        guard root.name == "domain" else {
            throw .invalidCPU(path: path, line: root.line, message: "not a domain definition (the root element is <\(root.name)>)")
        }
        if let uri = root.defaultNamespace, !uri.isEmpty {
            throw .invalidCPU(path: path, line: root.line, message: "<domain> declares the default namespace '\(uri)', which puts "
                                + "its elements in that namespace; libvirt reads only elements in no namespace and refuses such a domain")
        }
        guard !rootStart.isEmptyElement else {
            throw .invalidCPU(path: path, line: root.line, message: "the <domain> element is empty, which libvirt refuses")
        }
        if reader.cpus.count > 1 {
            let lines = reader.cpus.map { String($0.line) }.joined(separator: ", ")
            throw .invalidCPU(path: path, line: reader.cpus[1].line, message: "the domain has \(reader.cpus.count) <cpu> elements "
                                + "(lines \(lines)): libvirt would use the first and silently drop the others; remove the extra ones first")
        }
        return DomainLayout(bytes: bytes, root: rootStart, rootLine: root.line, children: reader.children,
                            cpu: reader.cpus.first, foreignCPULines: reader.foreignCPULines)
    }

    /// Refuses, with the reason, bytes libvirt cannot read as a domain:
    /// it takes the file as a C string (so a NUL byte ends it) and as UTF-8.
    private static func checkEncoding(_ bytes: [UInt8], path: String) throws(CPUCompatError) {
        let nul: Int? = bytes.withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress, let found = memchr(base, 0, buffer.count) else { return nil }
            return base.distance(to: UnsafeRawPointer(found))
        }
        let wide = "libvirt reads a domain only as UTF-8 (convert it: iconv -t UTF-8)"
        if bytes.starts(with: [0xFF, 0xFE]) || bytes.starts(with: [0xFE, 0xFF])
            || (nul ?? .max) < 4 && bytes.prefix(4).contains(UInt8(ascii: "<")) {
            throw .malformedXML(path: path, line: nil, message: "is UTF-16 or UTF-32; " + wide)
        }
        if bytes.starts(with: [0x4C, 0x6F, 0xA7, 0x94]) {
            throw .malformedXML(path: path, line: nil, message: "is EBCDIC; " + wide)
        }
        if let nul {
            throw .malformedXML(path: path, line: line(of: nul, in: bytes), message: "holds a NUL byte, where libvirt would stop reading the file")
        }
        if let invalid = firstInvalidUTF8(bytes) {
            throw .malformedXML(path: path, line: line(of: invalid, in: bytes), message: "not valid UTF-8" + declaredEncodingHint(bytes))
        }
    }

    private static func line(of offset: Int, in bytes: [UInt8]) -> Int {
        bytes[..<offset].reduce(1) { $0 + ($1 == 0x0A ? 1 : 0) }
    }

    /// The offset of the first byte that does not start a well-formed UTF-8
    /// sequence (libxml2 refuses the same: overlong forms, surrogates, beyond U+10FFFF).
    private static func firstInvalidUTF8(_ bytes: [UInt8]) -> Int? {
        // ASCII is most of every domain: skip it a byte at a time without decoding.
        guard let first = bytes.firstIndex(where: { $0 >= 0x80 }) else { return nil }
        var iterator = bytes[first...].makeIterator()
        var parser = Unicode.UTF8.ForwardParser()
        var offset = first
        while true {
            switch parser.parseScalar(from: &iterator) {
            case let .valid(scalar): offset += scalar.count
            case .emptyInput: return nil
            case .error: return offset
            }
        }
    }

    /// For a document that is not UTF-8: what its declaration says, and what to do.
    private static func declaredEncodingHint(_ bytes: [UInt8]) -> String {
        let plain = ", which is how libvirt reads a domain"
        guard bytes.starts(with: Array("<?xml".utf8)), let end = XMLInput.declarationEnd(bytes[...]) else { return plain }
        let declaration = Array(bytes[..<end])
        let key = Array("encoding".utf8)
        guard declaration.count >= key.count, let at = (0...(declaration.count - key.count)).first(where: { declaration[$0..<($0 + key.count)].elementsEqual(key) })
        else { return plain }
        let rest = declaration[(at + key.count)...].drop { $0 == 0x20 || $0 == 0x09 || $0 == UInt8(ascii: "=") }
        guard let quote = rest.first, quote == UInt8(ascii: "'") || quote == UInt8(ascii: "\"") else { return plain }
        let name = String(decoding: rest.dropFirst().prefix { $0 != quote }, as: UTF8.self)
        guard !["utf-8", "utf8"].contains(name.lowercased()) else { return plain }
        return ": the file declares \(name), but libvirt reads a domain as UTF-8 whatever it declares, and refuses this one too; "
            + "convert it: iconv -f \(name) -t UTF-8"
    }
}

/// Collects a domain's layout from the stream: the root, its children and
/// the parts of its `<cpu>`, with their byte ranges; nothing deeper.
private final class DomainLayoutReader: XMLStreamHandler {
    struct Root { var name: String; var line: Int; var defaultNamespace: String? }
    /// An element whose end has not come yet.
    struct Open { var name: String; var isLibvirts: Bool; var start: Int; var startTagEnd: Int; var line: Int; var attributes: [DomainLayout.Attribute] }

    let bytes: [UInt8]
    private(set) var root: Root?
    private(set) var rootStart: DomainLayout.Span?
    private(set) var children: [DomainLayout.Child] = []
    private(set) var cpus: [DomainLayout.ExistingCPU] = []
    private(set) var foreignCPULines: [Int] = []
    /// Set when a position did not fall on the markup it should: the layout cannot be trusted.
    private(set) var lostTrack = false

    private var depth = 0
    private var openChild: Open?
    private var openPart: Open?
    /// The `<cpu>` being read (the last of `cpus`).
    private var inCPU = false
    /// Just past the start tag or the last part of `<cpu>`: the next part
    /// starts at the first `<` from here that does not open CDATA.
    private var lastEnd = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    func startElement(_ element: XMLStreamElement) {
        depth += 1
        guard depth <= 3, !lostTrack else { return }
        guard depth < 3 || inCPU else { return }
        // The parser stands at the start tag's `>` or `/>`; no `<` can occur
        // within a start tag, so the nearest one before is where it opens.
        let close = element.position.byteOffset
        guard close < bytes.count, let start = startOfTag(before: close, named: element.qualifiedName) else {
            lostTrack = true
            return
        }
        let startTagEnd = bytes[close] == UInt8(ascii: "/") ? close + 2 : close + 1
        switch depth {
        case 1:
            root = Root(name: element.name, line: element.line,
                        defaultNamespace: element.namespaceDeclarations.first { $0.prefix == nil }?.uri)
            rootStart = .init(start: start, startTagEnd: startTagEnd, end: startTagEnd)
        case 2:
            let isLibvirts = element.namespaceURI == nil
            openChild = Open(name: element.name, isLibvirts: isLibvirts, start: start, startTagEnd: startTagEnd, line: element.line,
                             attributes: [])
            if element.name == "cpu" {
                if isLibvirts {
                    cpus.append(.init(span: .init(start: start, startTagEnd: startTagEnd, end: startTagEnd), line: element.line,
                                      attributes: attributes(of: element), namespaceDeclarations: element.namespaceDeclarations,
                                      parts: []))
                    inCPU = true
                    lastEnd = startTagEnd
                } else {
                    foreignCPULines.append(element.line)
                }
            }
        default:
            openPart = Open(name: element.name, isLibvirts: element.namespaceURI == nil, start: start, startTagEnd: startTagEnd,
                            line: element.line, attributes: attributes(of: element))
        }
    }

    func endElement(_ end: XMLStreamPosition) {
        defer { depth -= 1 }
        guard depth <= 3, !lostTrack else { return }
        switch depth {
        case 1:
            rootStart?.end = end.byteOffset
        case 2:
            guard let open = openChild.take() else { return }
            let span = DomainLayout.Span(start: open.start, startTagEnd: open.startTagEnd, end: end.byteOffset)
            children.append(.init(name: open.name, isLibvirts: open.isLibvirts, span: span, line: open.line))
            if inCPU {
                cpus[cpus.count - 1].span = span
                inCPU = false
            }
        default:
            guard inCPU, let open = openPart.take() else { return }
            lastEnd = end.byteOffset
            cpus[cpus.count - 1].parts.append(.element(
                name: open.name, isLibvirts: open.isLibvirts, attributes: open.attributes,
                span: .init(start: open.start, startTagEnd: open.startTagEnd, end: lastEnd)))
        }
    }

    /// Text needs no position: a part after it is found by scanning from `lastEnd`.
    func characters(_ text: UnsafeBufferPointer<UInt8>) {}

    func comment(_ end: XMLStreamPosition) { otherPart(end, opening: "<!--") }

    func processingInstruction(_ end: XMLStreamPosition) { otherPart(end, opening: "<?") }

    /// A comment or PI directly inside `<cpu>`. It starts at the first `<`
    /// after the previous part that does not open a CDATA section, since text
    /// holds no raw `<`. (libxml2 may report text before its position moves
    /// past it, so text events give no trustworthy offset.)
    private func otherPart(_ end: XMLStreamPosition, opening: StaticString) {
        guard inCPU, depth == 2, !lostTrack else { return }
        let stop = end.byteOffset
        let marker = UnsafeBufferPointer(start: opening.utf8Start, count: opening.utf8CodeUnitCount)
        let cdata = Array("<![CDATA[".utf8), cdataEnd = Array("]]>".utf8)
        var start = lastEnd
        while start < stop {
            guard let open = bytes[start..<stop].firstIndex(of: UInt8(ascii: "<")) else { break }
            start = open
            guard bytes[open..<stop].starts(with: cdata) else { break }
            var close = open + cdata.count
            while close + cdataEnd.count <= stop, !bytes[close..<(close + cdataEnd.count)].elementsEqual(cdataEnd) { close += 1 }
            start = close + cdataEnd.count
        }
        guard start + marker.count <= stop, bytes[start..<(start + marker.count)].elementsEqual(marker) else {
            lostTrack = true
            return
        }
        cpus[cpus.count - 1].parts.append(.other(start..<stop))
        lastEnd = stop
    }

    /// The offset of the `<` that opens the start tag ending at `close`,
    /// checked against the element's name.
    private func startOfTag(before close: Int, named name: String) -> Int? {
        var index = close - 1
        while index >= 0, bytes[index] != UInt8(ascii: "<") { index -= 1 }
        guard index >= 0 else { return nil }
        let nameBytes = name.utf8
        let nameEnd = index + 1 + nameBytes.count
        guard nameEnd <= close, bytes[(index + 1)..<nameEnd].elementsEqual(nameBytes) else { return nil }
        return index
    }

    private func attributes(of element: XMLStreamElement) -> [DomainLayout.Attribute] {
        element.attributes.map { attribute in
            .init(name: attribute.prefix.map { "\($0):\(attribute.name)" } ?? attribute.name, value: attribute.value,
                  isPrefixed: attribute.prefix != nil)
        }
    }
}
