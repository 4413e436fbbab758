internal import CLibXML2
#if canImport(Glibc)
import Glibc
#endif

/// A parsed XML document. The only owner of a libxml2 `xmlDoc`; freed in `deinit`.
///
/// Views into the tree (`XMLElement`) keep their document alive, so no
/// pointer into libxml2 can outlive the memory it points to.
final class XMLDocument {
    fileprivate let pointer: xmlDocPtr

    /// The name the document was read from, used in diagnostics.
    let path: String

    private init(pointer: xmlDocPtr, path: String) {
        self.pointer = pointer
        self.path = path
    }

    deinit { xmlFreeDoc(pointer) }

    /// Parses `bytes` with cpucompat's safe options.
    ///
    /// - Parameters:
    ///   - bytes: The document's bytes, any encoding libxml2 detects.
    ///   - path: The file name diagnostics should name.
    /// - Throws: `CPUCompatError.malformedXML` with the first error libxml2 reported.
    static func parse(_ bytes: [UInt8], path: String) throws(CPUCompatError) -> XMLDocument {
        try checkPrologue(bytes, path: path)
        XMLSafety.installOnce()
        let collector = XMLDiagnosticCollector()
        let context = Unmanaged.passUnretained(collector).toOpaque()
        collector.startCollecting()
        defer { collector.stopCollecting() }

        guard let parser = xmlNewParserCtxt() else {
            throw .malformedXML(path: path, line: nil, message: "out of memory")
        }
        defer { xmlFreeParserCtxt(parser) }
        // A DOCTYPE the byte scan cannot see (UTF-16) stops the parse before its entities are used.
        parser.pointee._private = context
        parser.pointee.sax.pointee.internalSubset = { context, _, _, _ in
            guard let parser = context?.assumingMemoryBound(to: xmlParserCtxt.self), let box = parser.pointee._private else { return }
            Unmanaged<XMLDiagnosticCollector>.fromOpaque(box).takeUnretainedValue().doctypeLine = Int(xmlSAX2GetLineNumber(context))
            xmlStopParser(parser)
        }
        let document: xmlDocPtr? = bytes.withUnsafeBufferPointer { buffer in
            buffer.baseAddress.flatMap { base in
                base.withMemoryRebound(to: CChar.self, capacity: buffer.count) { chars in
                    xmlCtxtReadMemory(parser, chars, Int32(clamping: buffer.count), path, nil,
                                      XMLParseOptions.safe.rawValue)
                }
            }
        }
        if let line = collector.doctypeLine {
            if let document { xmlFreeDoc(document) }
            throw .malformedXML(path: path, line: line, message: refusedDoctype)
        }
        guard let document, parser.pointee.wellFormed != 0, collector.first == nil else {
            if let document { xmlFreeDoc(document) }
            let first = collector.first
            throw .malformedXML(path: path, line: first?.line,
                                message: first?.message ?? "not well-formed XML")
        }
        if document.pointee.intSubset != nil {
            xmlFreeDoc(document)
            throw .malformedXML(path: path, line: nil, message: refusedDoctype)
        }
        return XMLDocument(pointer: document, path: path)
    }

    /// libvirt never writes a DOCTYPE, and a DOCTYPE is how entity bombs and
    /// external entities get in, so any DOCTYPE is refused before libxml2
    /// reads it (and, should one slip past this scan, after parsing too).
    static let refusedDoctype = "a DOCTYPE is not accepted (cpucompat reads libvirt XML, which has none)"

    /// Refuses, before libxml2 sees them, an empty document and one with a DOCTYPE.
    static func checkPrologue(_ bytes: [UInt8], path: String,
                              maximumAttributes: Int = maximumAttributes) throws(CPUCompatError) {
        guard bytes.contains(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }) else {
            throw .malformedXML(path: path, line: nil, message: "the file is empty")
        }
        if let line = doctypeLine(bytes) {
            throw .malformedXML(path: path, line: line, message: refusedDoctype)
        }
        if bytes.count > maximumAttributes * 4, let line = lineOfCrowdedTag(bytes, limit: maximumAttributes) {
            throw .malformedXML(path: path, line: line, message: "a start tag has more than \(grouped(Self.maximumAttributes)) attributes "
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
    private static func lineOfCrowdedTag(_ bytes: [UInt8], limit: Int) -> Int? {
        // memchr hops from one `=` to the next and checks for a `<` in between:
        // a fraction of an instruction per byte, since every file is checked.
        bytes.withUnsafeBytes { buffer -> Int? in
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
                        return 1 + buffer[..<tag].filter { $0 == 0x0A }.count
                    }
                }
                equals = find(UInt8(ascii: "="), from: equals + 1)
            }
            return nil
        }
    }

    /// The offset just past an XML declaration at the start of `bytes`.
    static func declarationEnd(_ bytes: ArraySlice<UInt8>) -> Int? {
        var index = bytes.startIndex
        while index + 1 < bytes.endIndex {
            if bytes[index] == UInt8(ascii: "?"), bytes[index + 1] == UInt8(ascii: ">") { return index + 2 }
            index += 1
        }
        return nil
    }

    /// The line of a `<!DOCTYPE` in the prolog, before the root element.
    private static func doctypeLine(_ bytes: [UInt8]) -> Int? {
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

    /// The root element.
    var root: XMLElement? {
        xmlDocGetRootElement(pointer).map { XMLElement(document: self, node: $0) }
    }
}

/// libxml2 diagnostics collected during one parse.
final class XMLDiagnosticCollector {
    struct Diagnostic { var line: Int?; var message: String; var code: Int32 }
    private(set) var first: Diagnostic?
    /// Where a DOCTYPE was met, if one was.
    var doctypeLine: Int?

    /// Routes libxml2's diagnostics on this thread to this collector until
    /// `stopCollecting()`; libxml2 keeps the handler per thread.
    func startCollecting() {
        xmlSetStructuredErrorFunc(Unmanaged.passUnretained(self).toOpaque()) { context, error in
            guard let context, let error else { return }
            Unmanaged<XMLDiagnosticCollector>.fromOpaque(context).takeUnretainedValue().record(error.pointee)
        }
    }

    /// Stops routing diagnostics here.
    func stopCollecting() { xmlSetStructuredErrorFunc(nil, nil) }

    func record(_ error: xmlError) {
        guard first == nil, error.level.rawValue >= XML_ERR_ERROR.rawValue else { return }
        // libxml2 reports a namespace name that is not a URI as an error, but the
        // document is well-formed and libvirt reads it: so does cpucompat.
        if error.code == Int32(XML_WAR_NS_URI.rawValue) || error.code == Int32(XML_WAR_NS_URI_RELATIVE.rawValue) { return }
        var message = error.message.map { String(cString: $0) } ?? "XML error \(error.code)"
        // libxml2 adds detail on further lines ("Bytes: 0xFF …"); a diagnostic is one line.
        message = String(message.prefix { !$0.isNewline })
        if message.contains("XML_PARSE_HUGE") {
            message = "the elements nest too deeply (libxml2's limit is 256 levels)"
        }
        first = Diagnostic(line: error.line > 0 ? Int(error.line) : nil, message: message, code: error.code)
    }
}

/// A read-only view of one element in a parsed document.
struct XMLElement {
    let document: XMLDocument
    fileprivate let node: xmlNodePtr

    /// The element's local name (without a namespace prefix).
    var name: String { String(cString: node.pointee.name) }

    /// The namespace URI, if the element is in one.
    var namespaceURI: String? { node.pointee.ns?.pointee.href.map { String(cString: $0) } }

    /// The line the element starts on, as libxml2 counted it.
    var line: Int { Int(xmlGetLineNo(node)) }

    /// The value of the attribute `name` (not in a namespace), or nil.
    func attribute(_ name: String) -> String? {
        guard let value = xmlGetNoNsProp(node, name) else { return nil }
        defer { cpucompat_xmlFree(value) }
        return String(cString: value)
    }

    /// The names and values of all attributes, in document order.
    var attributes: [(name: String, value: String)] {
        var result: [(String, String)] = []
        var attribute = node.pointee.properties
        while let current = attribute {
            let name = String(cString: current.pointee.name)
            if let value = xmlNodeGetContent(UnsafeMutableRawPointer(current).assumingMemoryBound(to: xmlNode.self)) {
                result.append((name, String(cString: value)))
                cpucompat_xmlFree(value)
            }
            attribute = current.pointee.next
        }
        return result
    }

    /// The child elements, in document order.
    var children: XMLElementSequence { XMLElementSequence(document: document, first: node.pointee.children) }
}

/// The element children of a node, walked lazily without copying the tree.
struct XMLElementSequence: Sequence {
    let document: XMLDocument
    let first: xmlNodePtr?

    struct Iterator: IteratorProtocol {
        let document: XMLDocument
        var upcoming: xmlNodePtr?

        mutating func next() -> XMLElement? {
            while let node = upcoming {
                upcoming = node.pointee.next
                if node.pointee.type == XML_ELEMENT_NODE {
                    return XMLElement(document: document, node: node)
                }
            }
            return nil
        }
    }

    func makeIterator() -> Iterator { Iterator(document: document, upcoming: first) }
}

extension String {
    /// The string without XML white space (space, tab, CR, LF) at either end.
    func trimmingXMLWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }
        guard let start = firstIndex(where: { !isSpace($0) }),
              let end = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[start...end])
    }
}
