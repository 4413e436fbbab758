internal import CLibXML2
#if canImport(Glibc)
import Glibc
#endif

/// Receives a document as a stream of events, without a tree being built.
///
/// Reading thousands of CPUs through a DOM costs a node per element, text
/// run and attribute; the stream hands over only what the reader asks for.
/// Every event carries the parser's position, so one parse can tell both
/// what an element means and which bytes it occupies.
protocol XMLStreamHandler: AnyObject {
    /// An element starts; `element` is valid only during the call.
    func startElement(_ element: XMLStreamElement)
    /// The current element ends; `end` is just past its last byte.
    func endElement(_ end: XMLStreamPosition)
    /// Text content of the current element (may come in several pieces).
    func characters(_ text: UnsafeBufferPointer<UInt8>)
    /// A comment ends; `end` is just past its `-->`.
    func comment(_ end: XMLStreamPosition)
    /// A processing instruction ends; `end` is just past its `?>`.
    func processingInstruction(_ end: XMLStreamPosition)
}

extension XMLStreamHandler {
    func comment(_ end: XMLStreamPosition) {}
    func processingInstruction(_ end: XMLStreamPosition) {}
}

/// Where the parser is in its input, during one callback.
///
/// Asked for only by handlers that need it: the offset costs a call into libxml2.
struct XMLStreamPosition {
    fileprivate let parser: xmlParserCtxtPtr

    /// The offset in the parsed bytes (for input read as UTF-8, the file's
    /// own bytes; with a wrapper, the wrapper's start tag counts).
    var byteOffset: Int { Int(xmlByteConsumed(parser)) }

    /// Delivers no further events of this parse: for a handler that has read
    /// all it needs. libxml2 still parses the rest, so a malformed or
    /// truncated file still fails the parse; only the callbacks into Swift,
    /// most of the work on a document whose interesting part is its start,
    /// are saved.
    func stopEvents() {
        guard let sax = parser.pointee.sax else { return }
        sax.pointee.startElementNs = nil
        sax.pointee.endElementNs = nil
        sax.pointee.characters = nil
        sax.pointee.cdataBlock = nil
        sax.pointee.ignorableWhitespace = nil
        sax.pointee.comment = nil
        sax.pointee.processingInstruction = nil
    }
}

/// An element's start tag as the stream delivers it. Valid only during
/// `XMLStreamHandler.startElement`.
struct XMLStreamElement {
    fileprivate let localName: UnsafePointer<UInt8>
    fileprivate let prefix: UnsafePointer<UInt8>?
    fileprivate let uri: UnsafePointer<UInt8>?
    fileprivate let namespaceCount: Int
    fileprivate let namespacePointers: UnsafeMutablePointer<UnsafePointer<UInt8>?>?
    fileprivate let attributeCount: Int
    fileprivate let attributePointers: UnsafeMutablePointer<UnsafePointer<UInt8>?>?
    /// The line the start tag is on.
    let line: Int
    /// Where the parser stands: at the start tag's closing `>` or `/>`.
    let position: XMLStreamPosition

    /// The local name.
    var name: String { String(cString: localName) }

    /// The value paired with the element's local name in `names`, compared
    /// as bytes (no string is made), or nil if the name is not there.
    func localName<Value>(in names: [(StaticString, Value)]) -> Value? {
        for (name, value) in names where strcmp(localName, name.utf8Start) == 0 { return value }
        return nil
    }

    /// Whether the element is in no namespace, as every element libvirt reads is.
    var isInNoNamespace: Bool { uri == nil }

    /// The name as written: `prefix:local` or `local`.
    var qualifiedName: String { prefix.map { String(cString: $0) + ":" + name } ?? name }

    /// The namespace the element is in, if any.
    var namespaceURI: String? { uri.map { String(cString: $0) } }

    /// The namespaces the start tag declares: a nil prefix for `xmlns="…"`.
    var namespaceDeclarations: [(prefix: String?, uri: String)] {
        guard let pointers = namespacePointers else { return [] }
        return (0..<namespaceCount).map { index in
            let uri = pointers[2 * index + 1].map { String(cString: $0) } ?? ""
            // Like attribute values, a URI comes with `&` as `&#38;`.
            return (pointers[2 * index].map { String(cString: $0) }, uri.contains("&") ? uri.replacingAll("&#38;", with: "&") : uri)
        }
    }

    /// The value of attribute `name` (not in a namespace), or nil.
    func attribute(_ name: StaticString) -> String? {
        guard let pointers = attributePointers else { return nil }
        for index in 0..<attributeCount {
            let base = index * 5
            guard let local = pointers[base], pointers[base + 2] == nil, strcmp(local, name.utf8Start) == 0 else { continue }
            return Self.value(pointers[base + 3], pointers[base + 4])
        }
        return nil
    }

    /// Every attribute as written, in document order (namespace declarations
    /// apart): its prefix, local name and value with references resolved.
    var attributes: [(prefix: String?, name: String, value: String)] {
        guard let pointers = attributePointers else { return [] }
        return (0..<attributeCount).compactMap { index in
            let base = index * 5
            guard let local = pointers[base] else { return nil }
            return (pointers[base + 1].map { String(cString: $0) }, String(cString: local),
                    Self.value(pointers[base + 3], pointers[base + 4]))
        }
    }

    private static func value(_ start: UnsafePointer<UInt8>?, _ end: UnsafePointer<UInt8>?) -> String {
        guard let start, let end else { return "" }
        let raw = UnsafeBufferPointer(start: start, count: end - start)
        let value = String(decoding: raw, as: UTF8.self)
        // Without entity substitution libxml2 hands over `&` as `&#38;`.
        return raw.contains(UInt8(ascii: "&")) ? value.replacingAll("&#38;", with: "&") : value
    }
}

/// How the bytes of a document are decoded.
enum XMLInputEncoding {
    /// As the document says: a byte order mark or the XML declaration's `encoding`.
    case declared
    /// As UTF-8 whatever the declaration says, the way libvirt reads a domain.
    case utf8
}

/// How a streaming parse ended.
enum XMLStreamEnding {
    /// At the end of the document.
    case endOfDocument
    /// At a second element after the root, which a caller that asked for it
    /// takes as the start of another document in the same file.
    case contentAfterRoot
}

/// Streams a document to an `XMLStreamHandler` with cpucompat's safe options.
enum XMLStreamParser {
    /// Parses `bytes`, delivering events to `handler`.
    ///
    /// - Parameters:
    ///   - encoding: How to decode the bytes; `.utf8` ignores the declared encoding.
    ///   - maximumAttributes: The most attributes a start tag may have.
    ///   - acceptsContentAfterRoot: Whether content after the root element
    ///     ends the parse with `.contentAfterRoot` instead of an error.
    /// - Returns: How the parse ended.
    /// - Throws: `CPUCompatError.malformedXML` with the first error libxml2 reported.
    @discardableResult
    static func parse(_ bytes: [UInt8], path: String, encoding: XMLInputEncoding = .declared,
                      maximumAttributes: Int = XMLInput.maximumAttributes, acceptsContentAfterRoot: Bool = false,
                      handler: any XMLStreamHandler) throws(CPUCompatError) -> XMLStreamEnding {
        try bytes.withUnsafeBufferPointer { buffer throws(CPUCompatError) in
            try parse(buffer, path: path, encoding: encoding, maximumAttributes: maximumAttributes,
                      acceptsContentAfterRoot: acceptsContentAfterRoot, handler: handler)
        }
    }

    /// The same for bytes the caller holds, which must stay valid during the call.
    ///
    /// - Parameter copying: Whether libxml2 first copies the whole input
    ///   (its memory parser: what byte offsets are read against), or reads
    ///   it a piece at a time, as it reads a file (for a fleet file, whose
    ///   copy would double the memory it takes).
    @discardableResult
    static func parse(_ bytes: UnsafeBufferPointer<UInt8>, path: String, encoding: XMLInputEncoding = .declared,
                      maximumAttributes: Int = XMLInput.maximumAttributes, acceptsContentAfterRoot: Bool = false,
                      copying: Bool = true, handler: any XMLStreamHandler) throws(CPUCompatError) -> XMLStreamEnding {
        try XMLInput.check(bytes, path: path, maximumAttributes: maximumAttributes)
        let context = try XMLParserContext.forStream(of: bytes, path: path, to: handler, copying: copying)
        installHandlers(on: context)
        context.parse { parser in
            context.use(.safe, encoding: encoding)
            _ = xmlParseDocument(parser)
        }
        guard let failure = context.failure else { return .endOfDocument }
        if acceptsContentAfterRoot, failure.isContentAfterRoot { return .contentAfterRoot }
        throw failure.error(path: path)
    }

    /// Parses `bytes`, several top-level elements one after another, as the
    /// content of an element called `wrapper`, delivering events to
    /// `handler`; line numbers stay those of the bytes. A byte order mark and
    /// an XML declaration at their start are skipped.
    ///
    /// The bytes are not checked (`XMLInput.check`): they are a part of a
    /// file the caller has checked whole.
    ///
    /// - Parameter given: Called after each piece of the bytes is given to
    ///   libxml2, with how many have been: libxml2 keeps its own copy of what
    ///   it has not parsed yet, so the caller may discard them.
    /// - Throws: `CPUCompatError.malformedXML` with the first error libxml2 reported.
    static func parseWrapped(_ bytes: UnsafeBufferPointer<UInt8>, path: String, in wrapper: String,
                             given: (Int) -> Void = { _ in }, handler: any XMLStreamHandler) throws(CPUCompatError) {
        let context = try XMLParserContext.forPush(path: path, to: handler)
        installHandlers(on: context)
        context.parse { _ in
            context.use(.safe, encoding: .declared)
            pushWrapped(bytes, in: wrapper, to: context, given: given)
        }
        if let failure = context.failure { throw failure.error(path: path) }
    }

    /// The bytes the push parser is given at a time: large enough that the
    /// calls cost nothing, small enough that libxml2's copy of what it has
    /// not parsed yet stays small beside the file.
    private static let pushChunkSize = 256 << 10

    /// Pushes `bytes` to `context` as the content of a `wrapper` element:
    /// the wrapper's tags are pushed on their own, so that the file is never
    /// copied to put them around it. A byte order mark and an XML declaration
    /// at the start are the file's, not content, and are skipped.
    private static func pushWrapped(_ bytes: UnsafeBufferPointer<UInt8>, in wrapper: String, to context: XMLParserContext,
                                    given: (Int) -> Void) {
        var body = bytes[...]
        if body.starts(with: [0xEF, 0xBB, 0xBF]) { body = body.dropFirst(3) }
        var opening = Array("<\(wrapper)>".utf8)
        if body.starts(with: "<?xml".utf8), let end = XMLInput.declarationEnd(body) {
            // A declaration over several lines keeps its lines, as white space inside the wrapper.
            opening += repeatElement(0x0A, count: body[..<end].count { $0 == 0x0A })
            body = body[end...]
        }
        let closing = Array("</\(wrapper)>".utf8)
        guard opening.withUnsafeBufferPointer({ context.push($0) }) else { return }
        var start = body.startIndex
        while start < body.endIndex {
            let end = min(start + pushChunkSize, body.endIndex)
            guard context.push(UnsafeBufferPointer(rebasing: bytes[start..<end])) else { return }
            given(end)
            start = end
        }
        _ = closing.withUnsafeBufferPointer { context.push($0, terminate: true) }
    }

    /// Points the parser's SAX callbacks at the context's handler; the
    /// tree-building callbacks for elements, text, comments and PIs are dropped.
    private static func installHandlers(on context: XMLParserContext) {
        context.withSAXHandler { sax in
            sax.pointee.startElementNs = { context, localName, prefix, uri, namespaceCount, namespaces, attributeCount, _, attributes in
                guard let localName, let parser = XMLParserContext.parser(of: context),
                      let handler = XMLParserContext.handler(of: context) else { return }
                handler.startElement(XMLStreamElement(
                    localName: localName, prefix: prefix, uri: uri,
                    namespaceCount: Int(namespaceCount), namespacePointers: namespaces,
                    attributeCount: Int(attributeCount), attributePointers: attributes,
                    line: Int(xmlSAX2GetLineNumber(context)), position: XMLStreamPosition(parser: parser)))
            }
            sax.pointee.endElementNs = { context, _, _, _ in
                guard let parser = XMLParserContext.parser(of: context), let handler = XMLParserContext.handler(of: context) else { return }
                handler.endElement(XMLStreamPosition(parser: parser))
            }
            sax.pointee.characters = { context, text, length in
                guard let text, let handler = XMLParserContext.handler(of: context) else { return }
                handler.characters(UnsafeBufferPointer(start: text, count: Int(length)))
            }
            sax.pointee.comment = { context, _ in
                guard let parser = XMLParserContext.parser(of: context), let handler = XMLParserContext.handler(of: context) else { return }
                handler.comment(XMLStreamPosition(parser: parser))
            }
            sax.pointee.processingInstruction = { context, _, _ in
                guard let parser = XMLParserContext.parser(of: context), let handler = XMLParserContext.handler(of: context) else { return }
                handler.processingInstruction(XMLStreamPosition(parser: parser))
            }
            sax.pointee.cdataBlock = sax.pointee.characters
            sax.pointee.ignorableWhitespace = sax.pointee.characters
            sax.pointee.reference = nil
        }
    }
}
