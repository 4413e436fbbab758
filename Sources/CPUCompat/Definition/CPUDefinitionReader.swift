import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Reads CPU definitions from the documents operators have at hand.
///
/// Accepted documents, told apart by their root element:
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
    /// - Throws: `CPUCompatError` naming the file: unreadable, malformed, or
    ///   holding no CPU.
    public static func read(contentsOf path: String) throws(CPUCompatError) -> [CPUDefinition] {
        try read(FileSystem.read(path), path: path)
    }

    /// Reads every CPU definition in `bytes`, naming `path` in errors.
    public static func read(_ bytes: [UInt8], path: String) throws(CPUCompatError) -> [CPUDefinition] {
        let collector = CPUCollector(path: path)
        do {
            try XMLStreamParser.parse(bytes, path: path, handler: collector)
        } catch let error where XMLStreamParser.isExtraContent(error) {
            // Several top-level elements, as `virsh cpu-baseline` accepts: read them inside a wrapper.
            if bytes.count >= 1 << 20, let halves = readInHalves(bytes, path: path) { return halves }
            let wrapped = CPUCollector(path: path, wrapped: true)
            try XMLStreamParser.parse(bytes, path: path, wrapper: "cpucompat-wrapper", handler: wrapped)
            try wrapped.finish()
            return wrapped.definitions
        }
        try collector.finish()
        return collector.definitions
    }

    /// Reads a large file of concatenated elements as two halves on two
    /// threads. The file is cut before a start tag at the beginning of a line
    /// past its middle; only a cut between top-level elements leaves both
    /// halves well-formed, so if either half fails (for any reason) the
    /// caller reads the whole file, which also gives the authoritative error.
    private static func readInHalves(_ bytes: [UInt8], path: String) -> [CPUDefinition]? {
        guard let cut = topLevelCut(bytes) else { return nil }
        let firstLines = bytes[..<cut].reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
        let halves = [Array(bytes[..<cut]), Array(bytes[cut...])]
        let results = HalfResults()
        DispatchQueue.concurrentPerform(iterations: 2) { half in
            let collector = CPUCollector(path: path, lineOffset: half == 0 ? 0 : firstLines, wrapped: true)
            do {
                try XMLStreamParser.parse(halves[half], path: path, wrapper: "cpucompat-wrapper", handler: collector)
                try collector.finish()
                results.store(collector.definitions, at: half)
            } catch {
                results.store(nil, at: half)
            }
        }
        return results.combined
    }

    /// The offset of a `<name` at the start of a line after the middle of `bytes`.
    private static func topLevelCut(_ bytes: [UInt8]) -> Int? {
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

/// The two halves' definitions, each written by its own thread.
private final class HalfResults: @unchecked Sendable {
    private let lock = PThreadMutex()
    private var slots: [[CPUDefinition]?] = [nil, nil]
    private var failed = false

    func store(_ definitions: [CPUDefinition]?, at half: Int) {
        lock.withLock {
            if let definitions { slots[half] = definitions } else { failed = true }
        }
    }

    var combined: [CPUDefinition]? {
        lock.withLock {
            guard !failed, let first = slots[0], let second = slots[1] else { return nil }
            return first + second
        }
    }
}

/// A minimal mutex over `pthread_mutex_t`, so no Foundation is needed.
private final class PThreadMutex: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    init() { pthread_mutex_init(mutex, nil) }
    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }
    func withLock<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body()
    }
}

/// Collects CPU definitions from the stream of a document, keeping only the
/// elements that describe CPUs: no tree is built.
private final class CPUCollector: XMLStreamHandler {
    let path: String
    private(set) var definitions: [CPUDefinition] = []
    private var failure: CPUCompatError?

    /// The names of the open elements, outermost first.
    private var stack: [String] = []
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
    private var inCustomMode = false

    private enum TextTarget { case model, vendor, arch, documentArch, declaredModel }

    /// Added to every line, for a document read in pieces.
    let lineOffset: Int
    /// Whether the stream is several documents inside a wrapper element of
    /// our own, which is not part of any of them: the elements are matched
    /// as though each document stood alone.
    let wrapped: Bool
    /// Where the documents' elements start in `stack`.
    private var base: Int { wrapped ? 1 : 0 }

    init(path: String, lineOffset: Int = 0, wrapped: Bool = false) {
        self.path = path
        self.lineOffset = lineOffset
        self.wrapped = wrapped
    }

    func finish() throws(CPUCompatError) {
        if let failure { throw failure }
        guard !definitions.isEmpty else { throw .noCPU(path: path) }
    }

    func startElement(_ element: XMLStreamElement) {
        let name = element.name
        defer { stack.append(name) }
        // The depth within the document: 1 for its root.
        let depth = stack.count + 1 - base
        guard failure == nil, depth >= 1 else { return }
        if current != nil {
            guard stack.count + 1 == currentDepth + 1 else { return }
            readCPUChild(element, name: name)
            return
        }
        if depth == 1 {
            documentArch = nil
            documentHostModel = nil
        }
        let root = depth == 1 ? name : stack[base]
        let parent = depth >= 3 ? stack[base + 1] : ""
        switch (root, depth) {
        case ("cpu", 1):
            begin(element, source: .cpu)
        case ("domain", 2) where name == "cpu" && element.isInNoNamespace:
            begin(element, source: .domain)
        case ("capabilities", 3) where name == "cpu" && parent == "host":
            begin(element, source: .capabilities)
        case ("domain", 3) where name == "type" && parent == "os":
            documentArch = element.attribute("arch")
        case ("domainCapabilities", 2) where name == "arch":
            startText(.documentArch)
        case ("domainCapabilities", 3) where name == "mode" && parent == "cpu":
            let mode = element.attribute("name")
            inCustomMode = mode == "custom"
            if mode == "host-model", element.attribute("supported") != "no" {
                begin(element, source: .domainCapabilities)
                current?.mode = "host-model"
            }
        case ("domainCapabilities", 4) where name == "model" && inCustomMode:
            declaredModel = .init(name: "", usable: element.attribute("usable"),
                                  deprecated: element.attribute("deprecated") == "yes", canonical: element.attribute("canonical"))
            startText(.declaredModel)
        case (_, 2) where name == "cpu" && root != "domain" && root != "capabilities" && root != "domainCapabilities":
            begin(element, source: .cpu)
        default:
            break
        }
    }

    func endElement(_ end: XMLStreamPosition) {
        let depth = stack.count
        stack.removeLast()
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
        if depth - base == 3, stack.count > base, stack[base] == "domainCapabilities" { inCustomMode = false }
        if depth == currentDepth, current != nil {
            // Features are gathered apart so the definition is not copied per feature.
            current?.features = features
            features.removeAll(keepingCapacity: true)
            if current?.arch == nil { current?.arch = documentArch }
            if let cpu = current.take(), cpu.source != .domainCapabilities || cpu.model != nil {
                if cpu.source == .domainCapabilities { documentHostModel = definitions.count }
                definitions.append(cpu)  // a host-model mode without a model describes no CPU
            }
        }
    }

    func characters(_ bytes: UnsafeBufferPointer<UInt8>) {
        if text != nil { text?.append(contentsOf: bytes) }
    }

    private func begin(_ element: XMLStreamElement, source: CPUDefinition.Source) {
        current = CPUDefinition(path: path, line: element.line + lineOffset, source: source, arch: nil,
                                mode: element.attribute("mode"), match: element.attribute("match"),
                                model: nil, fallback: nil, vendor: nil, features: [])
        currentDepth = stack.count + 1
    }

    private func startText(_ target: TextTarget) {
        text = []
        textTarget = target
    }

    private func readCPUChild(_ element: XMLStreamElement, name: String) {
        switch name {
        case "model":
            current?.fallback = element.attribute("fallback")
            startText(.model)
        case "vendor":
            startText(.vendor)
        case "arch":
            startText(.arch)
        case "feature":
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

extension CPUDefinitionReader {
    /// The bytes of the file at `path` (`-` for standard input), for callers
    /// that rewrite documents rather than read CPUs from them.
    public static func readBytes(contentsOf path: String) throws(CPUCompatError) -> [UInt8] {
        try FileSystem.read(path)
    }
}
