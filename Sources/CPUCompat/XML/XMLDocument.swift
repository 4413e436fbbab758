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
        try XMLInput.check(bytes, path: path)
        let context = try XMLParserContext.forTree(path: path)
        let parsed: xmlDocPtr? = context.parse { parser in
            bytes.withUnsafeBufferPointer { buffer in
                buffer.baseAddress.flatMap { base in
                    base.withMemoryRebound(to: CChar.self, capacity: buffer.count) { chars in
                        xmlCtxtReadMemory(parser, chars, Int32(clamping: buffer.count), path, nil, XMLParseOptions.safe.rawValue)
                    }
                }
            }
        }
        // Owned at once, so every way out below frees it.
        let document = parsed.map { XMLDocument(pointer: $0, path: path) }
        if let failure = context.failure { throw failure.error(path: path) }
        guard let document else { throw XMLParseFailure.notWellFormed.error(path: path) }
        if document.pointer.pointee.intSubset != nil {
            throw .malformedXML(path: path, line: nil, message: XMLInput.refusedDoctype)
        }
        return document
    }

    /// The root element.
    var root: XMLElement? {
        xmlDocGetRootElement(pointer).map { XMLElement(document: self, node: $0) }
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
        // XML's white space is four ASCII bytes, so the bytes are trimmed, not
        // the characters (which cost a grapheme break test each); the cut
        // falls next to an ASCII byte, on a character boundary.
        let isSpace = { (byte: UInt8) in byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D }
        guard let start = utf8.firstIndex(where: { !isSpace($0) }),
              let end = utf8.lastIndex(where: { !isSpace($0) }) else { return "" }
        if start == utf8.startIndex, utf8.index(after: end) == utf8.endIndex { return self }
        return String(decoding: utf8[start...end], as: UTF8.self)
    }
}
