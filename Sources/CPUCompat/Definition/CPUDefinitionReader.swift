/// Reads CPU definitions from the documents operators have at hand.
///
/// Accepted documents, told apart by their root element (one
/// `DocumentRecogniser` per kind):
/// - a bare `<cpu>`, or any wrapper element holding `<cpu>`s;
/// - `virsh capabilities`: the `<host><cpu>`;
/// - `virsh domcapabilities`: the supported `host-model` `<mode>`, whose
///   `require` and `disable` features both count;
/// - a domain definition: its `<cpu>`;
/// - several of these one after another in one file or stream (`cat
///   kvm02.xml kvm03.xml`, `virsh capabilities` of several hosts), as `virsh
///   cpu-baseline` accepts them: each is read as if it were alone.
public enum CPUDefinitionReader {
    /// Reads every CPU definition in the file at `path` (`-` for standard input).
    ///
    /// - Parameter path: The file, or `-` for standard input.
    /// - Returns: The definitions in the order the file holds them.
    /// - Throws: `CPUCompatError` naming the file: unreadable, malformed, or
    ///   holding no CPU.
    public static func read(contentsOf path: String) throws(CPUCompatError) -> [CPUDefinition] {
        // A file large enough to be a fleet is read into pages of its own, given back as they are parsed.
        guard let file = try FileSystem.readPaged(path, minimumSize: ConcatenatedDocuments.halvesThreshold) else {
            return try read(FileSystem.read(path), path: path)
        }
        return try read(file.bytes, path: path, copying: false) { () throws(CPUCompatError) in
            try ConcatenatedDocuments.read(file, path: path)
        }
    }

    /// Reads every CPU definition in `bytes`.
    ///
    /// - Parameters:
    ///   - bytes: A document, or several one after another.
    ///   - path: The name errors and definitions give the input.
    /// - Returns: The definitions in the order the bytes hold them.
    /// - Throws: `CPUCompatError` when the bytes are malformed or hold no CPU.
    public static func read(_ bytes: [UInt8], path: String) throws(CPUCompatError) -> [CPUDefinition] {
        try bytes.withUnsafeBufferPointer { buffer throws(CPUCompatError) in
            try read(buffer, path: path, copying: true) { () throws(CPUCompatError) in
                try ConcatenatedDocuments.read(bytes, path: path)
            }
        }
    }

    /// Reads `bytes` as one document, or, when a second follows the first,
    /// as several with `readConcatenated`.
    private static func read(_ bytes: UnsafeBufferPointer<UInt8>, path: String, copying: Bool,
                             readConcatenated: () throws(CPUCompatError) -> [CPUDefinition]) throws(CPUCompatError) -> [CPUDefinition] {
        let collector = CPUCollector(path: path)
        switch try XMLStreamParser.parse(bytes, path: path, acceptsContentAfterRoot: true, copying: copying,
                                         handler: collector) {
        case .endOfDocument:
            return try collector.finish()
        case .contentAfterRoot:
            // Several documents one after another, as `virsh cpu-baseline` accepts.
            return try readConcatenated()
        }
    }

    /// Reads the `<cpu>` of the one domain (guest) definition in the file at
    /// `path`; a domain without `<cpu>` is not an error here, as it is where
    /// a CPU must be read.
    ///
    /// - Parameter path: The file, or `-` for standard input.
    /// - Returns: The domain's CPU, or nil when it has none, and the line of
    ///   the `<domain>` element.
    /// - Throws: `CPUCompatError` naming the file: unreadable, malformed,
    ///   several documents, or not a domain definition.
    static func readDomain(contentsOf path: String) throws(CPUCompatError) -> (cpu: CPUDefinition?, line: Int) {
        let collector = CPUCollector(path: path)
        _ = try XMLStreamParser.parse(FileSystem.read(path), path: path, acceptsContentAfterRoot: false, handler: collector)
        let (definitions, root) = try collector.finishAllowingNone()
        guard let root, root.name == .domain else {
            throw .invalidCPU(path: path, line: root?.line,
                              message: "is not a domain definition: a guest is a domain XML (virsh dumpxml, /etc/libvirt/qemu/NAME.xml)")
        }
        return (definitions.first, root.line)
    }

    /// The bytes of the file at `path` (`-` for standard input), for callers
    /// that rewrite documents rather than read CPUs from them.
    ///
    /// - Parameter path: The file, or `-` for standard input.
    /// - Returns: The file's bytes.
    /// - Throws: `CPUCompatError.unreadable` naming the file and the reason.
    public static func readBytes(contentsOf path: String) throws(CPUCompatError) -> [UInt8] {
        try FileSystem.read(path)
    }
}

/// Hands the stream's events to a `CPUDocumentReader`: one access to the
/// class's state per event, where the reader's many fields would each cost
/// an exclusivity check as properties of a class.
final class CPUCollector: XMLStreamHandler {
    // The reader lives behind a pointer the collector owns: a stored `var`
    // of a class costs a dynamic exclusivity check per access, a tenth of the
    // reading time at 100,000 hosts, and the reader is only ever reached from
    // the one parse that runs the callbacks, one at a time.
    private let state: UnsafeMutablePointer<CPUDocumentReader>
    private var reader: CPUDocumentReader {
        _read { yield state.pointee }
        _modify { yield &state.pointee }
    }

    init(path: String, lineOffset: Int = 0, wrapped: Bool = false) {
        state = .allocate(capacity: 1)
        state.initialize(to: CPUDocumentReader(path: path, lineOffset: lineOffset, wrapped: wrapped))
    }

    deinit {
        state.deinitialize(count: 1)
        state.deallocate()
    }

    /// The definitions read.
    ///
    /// - Throws: The first problem met in a `<cpu>`, or `.noCPU` when there was none.
    func finish() throws(CPUCompatError) -> [CPUDefinition] { try reader.finish() }

    /// The definitions read, none being no error, and the document's root element.
    ///
    /// - Throws: The first problem met in a `<cpu>`.
    func finishAllowingNone() throws(CPUCompatError) -> ([CPUDefinition], root: (name: ElementName, line: Int)?) {
        (try reader.finishAllowingNone(), reader.root)
    }

    func startElement(_ element: XMLStreamElement) { reader.startElement(element) }
    func endElement(_ end: XMLStreamPosition) {
        if reader.endElement() { end.stopEvents() }
    }
    func characters(_ text: UnsafeBufferPointer<UInt8>) { reader.characters(text) }
}

/// Collects CPU definitions from the stream of a document, keeping only the
/// elements that describe CPUs: no tree is built, and element names are
/// compared as bytes, never made into strings.
///
/// The root element picks the document's recogniser, which says what an
/// element outside a `<cpu>` means; the `<cpu>`'s own children (model,
/// vendor, arch, features) read the same in every kind of document.
struct CPUDocumentReader {
    let path: String
    private var definitions: [CPUDefinition] = []
    private var failure: CPUCompatError?
    // The optionals asked about on every event are matched, not compared with
    // nil: `current != nil` would compare two optional definitions through
    // their `Equatable` conformance, copying both (a third of the reading time).
    /// Whether a problem was met.
    private var hasFailed: Bool {
        if case .some = failure { true } else { false }
    }
    /// Whether a `<cpu>` is being read.
    private var isReadingCPU: Bool {
        if case .some = current { true } else { false }
    }

    /// The names of the open elements, outermost first.
    private var stack: [ElementName] = []
    private var recogniser: any DocumentRecogniser = CPUListRecogniser()
    /// The CPU being read and the depth of its element.
    private var current: CPUDefinition?
    private var currentDepth = 0
    /// Text of the child element being read (`model`, `vendor`, `arch`), if any.
    private var text: [UInt8]?
    private var textTarget: TextTarget?
    private var features: [CPUDefinition.Feature] = []
    private var documentArch: String?
    private var declaredModel: CPUDefinition.DeclaredModel?
    /// The position in `definitions` of the current document's domcapabilities
    /// host-model, which its custom-mode models describe.
    private var documentHostModel: Int?
    /// The root element of the first document, and its line.
    private(set) var root: (name: ElementName, line: Int)?

    private enum TextTarget { case model, vendor, arch, documentArch, declaredModel }

    /// Added to every line, for a document read in pieces.
    let lineOffset: Int
    /// Whether the stream is several documents inside a wrapper element of
    /// our own, which is not part of any of them: the elements are matched
    /// as though each document stood alone.
    let wrapped: Bool
    /// Where the documents' elements start in `stack`.
    private var base: Int { wrapped ? 1 : 0 }

    init(path: String, lineOffset: Int, wrapped: Bool) {
        self.path = path
        self.lineOffset = lineOffset
        self.wrapped = wrapped
    }

    func finish() throws(CPUCompatError) -> [CPUDefinition] {
        let definitions = try finishAllowingNone()
        guard !definitions.isEmpty else { throw .noCPU(path: path) }
        return definitions
    }

    func finishAllowingNone() throws(CPUCompatError) -> [CPUDefinition] {
        if let failure { throw failure }
        return definitions
    }

    mutating func startElement(_ element: XMLStreamElement) {
        let name = ElementName(element)
        defer { stack.append(name) }
        // The depth within the document: 1 for its root.
        let depth = stack.count + 1 - base
        guard !hasFailed, depth >= 1 else { return }
        if isReadingCPU {
            if depth == currentDepth + 1 { readCPUChild(element, name: name) }
            return
        }
        if depth == 1 {
            if root == nil { root = (name, element.line + lineOffset) }
            documentArch = nil
            documentHostModel = nil
            recogniser = Self.recogniser(forRoot: name)
        }
        let parent = depth >= 2 ? stack[stack.count - 1] : .other
        switch recogniser.recognise(element, name: name, depth: depth, parent: parent) {
        case .nothing:
            break
        case let .cpu(source, mode):
            begin(element, source: source)
            if let mode { current?.mode = mode }
        case let .architecture(arch):
            documentArch = arch
        case .architectureText:
            startText(.documentArch)
        case let .declaredModel(model):
            declaredModel = model
            startText(.declaredModel)
        }
    }

    private static func recogniser(forRoot name: ElementName) -> any DocumentRecogniser {
        switch name {
        case .capabilities: CapabilitiesRecogniser()
        case .domainCapabilities: DomainCapabilitiesRecogniser()
        case .domain: DomainRecogniser()
        default: CPUListRecogniser()
        }
    }

    /// - Returns: Whether the document has nothing more to read: its
    /// recogniser says so, and the stream is one document.
    mutating func endElement() -> Bool {
        let depth = stack.count
        let name = stack.removeLast()
        if let target = textTarget, let bytes = text {
            let value = String(decoding: bytes, as: UTF8.self).trimmingXMLWhitespace()
            switch target {
            case .model: current?.model = value.isEmpty ? nil : value
            case .vendor: current?.vendor = value.isEmpty ? nil : value
            case .arch: current?.arch = value
            case .documentArch: documentArch = value
            case .declaredModel:
                declaredModel?.name = value
                if let declaredModel, let documentHostModel {
                    definitions[documentHostModel].declaredModels.append(declaredModel)
                }
                declaredModel = nil
            }
            text = nil
            textTarget = nil
        }
        if depth > base { recogniser.end(depth: depth - base) }
        if depth - base == currentDepth, isReadingCPU {
            // Features are gathered apart so the definition is not copied per
            // feature, and stored in a copy of their number (the gathering
            // array keeps the capacity of the longest list, for the next CPU).
            current?.features = features.withUnsafeBufferPointer { Array($0) }
            features.removeAll(keepingCapacity: true)
            if current?.arch == nil { current?.arch = documentArch }
            if let cpu = current.take(), cpu.source != .domainCapabilities || cpu.model != nil {
                if cpu.source == .domainCapabilities { documentHostModel = definitions.count }
                definitions.append(cpu)  // a host-model mode without a model describes no CPU
            }
        }
        return !wrapped && !hasFailed && recogniser.readsNothingAfter(name, depth: depth - base, parent: stack.last ?? .other)
    }

    mutating func characters(_ bytes: UnsafeBufferPointer<UInt8>) {
        if case .some = text {
            text?.append(contentsOf: bytes)
        } else if wrapped, stack.count == 1, !hasFailed, !Self.isBlank(bytes) {
            // Between documents only white space may stand; libxml2 would call the text content after the root.
            failure = .malformedXML(path: path, line: nil, message: "text between the documents of the file")
        }
    }

    /// Whether `bytes` are only XML white space and byte order marks (a
    /// concatenated file's BOM arrives as text between its documents).
    private static func isBlank(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var index = 0
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            case 0xEF where index + 2 < bytes.count && bytes[index + 1] == 0xBB && bytes[index + 2] == 0xBF: index += 3
            default: return false
            }
        }
        return true
    }

    private mutating func begin(_ element: XMLStreamElement, source: CPUDefinition.Source) {
        current = CPUDefinition(path: path, line: element.line + lineOffset, source: source, arch: nil,
                                mode: element.attribute("mode"), match: element.attribute("match"),
                                model: nil, fallback: nil, vendor: nil, features: [])
        currentDepth = stack.count + 1 - base
    }

    private mutating func startText(_ target: TextTarget) {
        text = []
        textTarget = target
    }

    private mutating func readCPUChild(_ element: XMLStreamElement, name: ElementName) {
        switch name {
        case .model:
            current?.fallback = element.attribute("fallback")
            startText(.model)
        case .vendor:
            startText(.vendor)
        case .arch:
            startText(.arch)
        case .feature:
            guard let feature = element.attribute("name"), !feature.isEmpty else {
                failure = .invalidCPU(path: path, line: element.line + lineOffset, message: "a <feature> has no name")
                return
            }
            var policy: FeaturePolicy?
            if let text = element.attribute("policy") {
                guard let known = FeaturePolicy(rawValue: text) else {
                    failure = .invalidCPU(path: path, line: element.line + lineOffset, message: "invalid CPU feature policy '\(text)' for \(feature)")
                    return
                }
                policy = known
            }
            features.append(.init(name: feature, policy: policy, line: element.line + lineOffset))
        default:
            break
        }
    }
}
