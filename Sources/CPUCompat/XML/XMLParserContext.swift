internal import CLibXML2

/// One parse by libxml2: the only owner of its parser context, and of any
/// document the context still holds, both freed in `deinit`.
///
/// The tree-building and the streaming readers both parse through it, so
/// the safety set-up (the entity loader, the DOCTYPE stop, the collected
/// diagnostics) and the freeing exist once, and no error path frees by hand.
final class XMLParserContext {
    fileprivate let pointer: xmlParserCtxtPtr
    /// The name diagnostics give the input.
    let path: String
    private let diagnostics = XMLDiagnosticCollector()
    /// Where a DOCTYPE stopped the parse, if one did.
    fileprivate(set) var doctypeLine: Int?
    /// Receives the events of a streaming parse: a constant, since a
    /// variable would cost an exclusivity check on every event.
    fileprivate let handler: (any XMLStreamHandler)?

    private init(pointer: xmlParserCtxtPtr, path: String, handler: (any XMLStreamHandler)? = nil) {
        self.pointer = pointer
        self.path = path
        self.handler = handler
        pointer.pointee._private = Unmanaged.passUnretained(self).toOpaque()
        // A DOCTYPE the byte check cannot see (UTF-16) stops the parse before its entities are used.
        pointer.pointee.sax.pointee.internalSubset = { context, _, _, _ in
            guard let owner = XMLParserContext.owner(of: context) else { return }
            owner.doctypeLine = Int(xmlSAX2GetLineNumber(context))
            xmlStopParser(owner.pointer)
        }
    }

    deinit {
        if let document = pointer.pointee.myDoc { xmlFreeDoc(document) }
        xmlFreeParserCtxt(pointer)
    }

    /// A context for reading a whole document into a tree (`xmlCtxtReadMemory`).
    ///
    /// - Throws: `CPUCompatError.malformedXML` when libxml2 cannot allocate one.
    static func forTree(path: String) throws(CPUCompatError) -> XMLParserContext {
        XMLSafety.installOnce()
        guard let pointer = xmlNewParserCtxt() else { throw .malformedXML(path: path, line: nil, message: "out of memory") }
        return XMLParserContext(pointer: pointer, path: path)
    }

    /// A context that streams `input` to `handler`; `input` must stay valid
    /// and unchanged while the context parses.
    ///
    /// - Parameter copying: Whether libxml2 copies the whole input first
    ///   (`xmlCreateMemoryParserCtxt`), or reads it through a callback a
    ///   piece at a time, as it reads a file. (libxml2 2.9's "static"
    ///   buffers, which would read it in place, misread any document longer
    ///   than a few kilobytes: their start moves when the parser shrinks
    ///   them, and the parser's pointers do not follow.)
    /// - Throws: `CPUCompatError.malformedXML` when the input is too large for libxml2 or memory runs out.
    static func forStream(of input: UnsafeBufferPointer<UInt8>, path: String, to handler: any XMLStreamHandler,
                          copying: Bool = true) throws(CPUCompatError) -> XMLParserContext {
        XMLSafety.installOnce()
        guard input.count <= Int(Int32.max) else { throw .malformedXML(path: path, line: nil, message: "the file is too large") }
        let outOfMemory = CPUCompatError.malformedXML(path: path, line: nil, message: "out of memory")
        guard let base = UnsafeRawPointer(input.baseAddress)?.assumingMemoryBound(to: CChar.self) else { throw outOfMemory }
        guard !copying else {
            guard let pointer = xmlCreateMemoryParserCtxt(base, Int32(input.count)) else { throw outOfMemory }
            return XMLParserContext(pointer: pointer, path: path, handler: handler)
        }
        guard let pointer = xmlNewParserCtxt() else { throw outOfMemory }
        let context = XMLParserContext(pointer: pointer, path: path, handler: handler)
        let reader = Unmanaged.passRetained(XMLInputReader(input)).toOpaque()
        guard let buffer = xmlParserInputBufferCreateIO(XMLInputReader.read, XMLInputReader.close, reader, XML_CHAR_ENCODING_NONE) else {
            Unmanaged<XMLInputReader>.fromOpaque(reader).release()
            throw outOfMemory
        }
        // From here the buffer owns the reader: freeing it closes the reader.
        guard let stream = xmlNewIOInputStream(pointer, buffer, XML_CHAR_ENCODING_NONE) else {
            xmlFreeParserInputBuffer(buffer)
            throw outOfMemory
        }
        guard inputPush(pointer, stream) >= 0 else {
            xmlFreeInputStream(stream)
            throw outOfMemory
        }
        return context
    }

    /// A context that is given its input in pieces (`push(_:terminate:)`),
    /// holding only what it has not parsed yet, and streams it to `handler`.
    ///
    /// - Throws: `CPUCompatError.malformedXML` when memory runs out.
    static func forPush(path: String, to handler: any XMLStreamHandler) throws(CPUCompatError) -> XMLParserContext {
        XMLSafety.installOnce()
        guard let pointer = xmlCreatePushParserCtxt(nil, nil, nil, 0, nil) else {
            throw .malformedXML(path: path, line: nil, message: "out of memory")
        }
        return XMLParserContext(pointer: pointer, path: path, handler: handler)
    }

    /// Runs `parse` with this thread's libxml2 diagnostics collected here.
    func parse<Result>(_ parse: (xmlParserCtxtPtr) -> Result) -> Result {
        diagnostics.startCollecting()
        defer { diagnostics.stopCollecting() }
        return withExtendedLifetime(self) { parse(pointer) }
    }

    /// How the parse went wrong, if it did: a DOCTYPE, or libxml2's first error.
    var failure: XMLParseFailure? {
        if let doctypeLine { return .doctype(line: doctypeLine) }
        if let first = diagnostics.first { return .libxml2(first) }
        return pointer.pointee.wellFormed == 0 ? .notWellFormed : nil
    }

    /// Applies `options`, and with `.utf8` reads the bytes as UTF-8 whatever they declare.
    func use(_ options: XMLParseOptions, encoding: XMLInputEncoding) {
        switch encoding {
        case .declared:
            xmlCtxtUseOptions(pointer, options.rawValue)
        case .utf8:
            xmlCtxtUseOptions(pointer, options.union(.ignoreDeclaredEncoding).rawValue)
            xmlSwitchEncoding(pointer, XML_CHAR_ENCODING_UTF8)
        }
    }

    /// The context that owns the parser libxml2 passes to a callback.
    static func owner(of context: UnsafeMutableRawPointer?) -> XMLParserContext? {
        guard let box = context?.assumingMemoryBound(to: xmlParserCtxt.self).pointee._private else { return nil }
        return Unmanaged<XMLParserContext>.fromOpaque(box).takeUnretainedValue()
    }

    /// The handler of the streaming parse that libxml2 passes to a callback.
    static func handler(of context: UnsafeMutableRawPointer?) -> (any XMLStreamHandler)? {
        owner(of: context)?.handler
    }

    /// The owner's parser, for positions read during a callback.
    static func parser(of context: UnsafeMutableRawPointer?) -> xmlParserCtxtPtr? {
        context?.assumingMemoryBound(to: xmlParserCtxt.self)
    }

    /// Gives a push context (`forPush(path:)`) its next piece of input, at
    /// most `Int32.max` bytes; `terminate` says it is the last.
    ///
    /// - Returns: False once the parse has stopped (a DOCTYPE, or a fatal
    ///   error), when there is no point in pushing more.
    func push(_ bytes: UnsafeBufferPointer<UInt8>, terminate: Bool = false) -> Bool {
        let status = bytes.withMemoryRebound(to: CChar.self) { xmlParseChunk(pointer, $0.baseAddress, Int32($0.count), terminate ? 1 : 0) }
        return status == 0 && pointer.pointee.disableSAX == 0 && pointer.pointee.instate != XML_PARSER_EOF
    }
}

/// Hands libxml2 the caller's bytes a piece at a time, as a file would.
private final class XMLInputReader {
    private let input: UnsafeBufferPointer<UInt8>
    private var offset = 0

    init(_ input: UnsafeBufferPointer<UInt8>) { self.input = input }

    /// libxml2's read callback: copies up to `length` bytes to `buffer`.
    static let read: xmlInputReadCallback = { context, buffer, length in
        guard let context, let buffer, length > 0 else { return 0 }
        let reader = Unmanaged<XMLInputReader>.fromOpaque(context).takeUnretainedValue()
        let count = min(Int(length), reader.input.count - reader.offset)
        guard count > 0, let base = reader.input.baseAddress else { return 0 }
        UnsafeMutableRawPointer(buffer).copyMemory(from: base + reader.offset, byteCount: count)
        reader.offset += count
        return Int32(count)
    }

    /// libxml2's close callback: releases the reader.
    static let close: xmlInputCloseCallback = { context in
        if let context { Unmanaged<XMLInputReader>.fromOpaque(context).release() }
        return 0
    }
}

/// Why a parse failed.
enum XMLParseFailure {
    /// The document has a DOCTYPE, which cpucompat refuses.
    case doctype(line: Int)
    /// libxml2's first error.
    case libxml2(XMLDiagnostic)
    /// libxml2 found the document not well-formed without saying why.
    case notWellFormed

    /// Whether the only problem is a second element after the root: a file
    /// of several documents one after another.
    var isContentAfterRoot: Bool {
        guard case let .libxml2(diagnostic) = self else { return false }
        return diagnostic.code == Int32(XML_ERR_DOCUMENT_END.rawValue)
    }

    /// The failure as cpucompat reports it, naming `path`.
    func error(path: String) -> CPUCompatError {
        switch self {
        case let .doctype(line): .malformedXML(path: path, line: line, message: XMLInput.refusedDoctype)
        case let .libxml2(diagnostic): .malformedXML(path: path, line: diagnostic.line, message: diagnostic.message)
        case .notWellFormed: .malformedXML(path: path, line: nil, message: "not well-formed XML")
        }
    }
}

/// One diagnostic libxml2 reported.
struct XMLDiagnostic {
    var line: Int?
    var message: String
    /// libxml2's `xmlParserErrors` code.
    var code: Int32
}

/// libxml2 diagnostics collected during one parse.
private final class XMLDiagnosticCollector {
    private(set) var first: XMLDiagnostic?

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

    private func record(_ error: xmlError) {
        guard first == nil, error.level.rawValue >= XML_ERR_ERROR.rawValue else { return }
        // libxml2 reports a namespace name that is not a URI as an error, but the
        // document is well-formed and libvirt reads it: so does cpucompat.
        if error.code == Int32(XML_WAR_NS_URI.rawValue) || error.code == Int32(XML_WAR_NS_URI_RELATIVE.rawValue) { return }
        var message = error.message.map { String(cString: $0) } ?? "XML error \(error.code)"
        // libxml2 adds detail on further lines ("Bytes: 0xFF …"); a diagnostic is one line.
        message = String(message.prefix { !$0.isNewline })
        if error.code == Int32(XML_ERR_INTERNAL_ERROR.rawValue), message.hasPrefix("Excessive depth") {
            message = "the elements nest too deeply (libxml2's limit is 256 levels)"
        }
        first = XMLDiagnostic(line: error.line > 0 ? Int(error.line) : nil, message: message, code: error.code)
    }
}

extension XMLParserContext {
    /// Lets the streaming parser set its callbacks on the context's SAX handler.
    func withSAXHandler(_ body: (UnsafeMutablePointer<xmlSAXHandler>) -> Void) {
        if let sax = pointer.pointee.sax { body(sax) }
    }
}
