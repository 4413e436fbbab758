/// A domain definition with its `<cpu>` replaced, every other byte kept.
public struct DomainPatch: Hashable, Sendable {
    /// The document as read.
    public var original: [UInt8]
    /// The document with the new `<cpu>`.
    public var patched: [UInt8]
    /// What the user should know: conversions, replaced or dropped entries, left-out features.
    public var notes: [String]

    /// Whether the patch changes nothing (the domain already had this `<cpu>`).
    public var isUnchanged: Bool { original == patched }
}

/// Replaces a domain's `<cpu>` element in the original bytes.
///
/// libxml2 reads the domain (so a broken document is refused before
/// anything is written), but the result is spliced, not re-serialised:
/// comments, quote style, empty elements, white space, namespaced metadata
/// and the presence or absence of an XML declaration all stay as they were.
/// The new `<cpu>` is indented like its siblings and uses the document's quote
/// style; patching a patched domain again gives the same bytes.
public enum DomainPatcher {
    /// Children of `<domain>` that libvirt writes before `<cpu>`, so a new
    /// `<cpu>` goes after the last of them that is present.
    static let elementsBeforeCPU: Set<String> = [
        "name", "uuid", "genid", "title", "description", "metadata", "maxMemory", "memory", "currentMemory",
        "blkiotune", "memtune", "memoryBacking", "vcpu", "vcpus", "iothreads", "iothreadids", "defaultiothread",
        "cputune", "numatune", "resource", "sysinfo", "bootloader", "bootloader_args", "os", "idmap", "features",
    ]

    /// Patches the domain in `bytes` with `plan`.
    ///
    /// - Parameters:
    ///   - bytes: The domain XML as read from disk.
    ///   - path: The file name, for errors.
    ///   - plan: The `<cpu>` to write.
    ///   - architecture: The map part used to match existing feature names (aliases).
    /// - Throws: `CPUCompatError` when the document is malformed or not a domain.
    public static func patch(_ bytes: [UInt8], path: String, plan: GuestCPUPlan,
                             architecture: CPUArchitecture) throws(CPUCompatError) -> DomainPatch {
        let document = try XMLDocument.parse(bytes, path: path)
        guard let root = document.root, root.name == "domain" else {
            throw .invalidCPU(path: path, line: document.root?.line, message: "not a domain definition (the root element is not <domain>)")
        }
        let scanner = ElementScanner(bytes: bytes)
        guard let rootSpan = scanner.root(), !rootSpan.isSelfClosing else {
            throw .invalidCPU(path: path, line: root.line, message: "the <domain> element is empty")
        }
        let style = DocumentStyle(bytes: bytes, root: rootSpan, children: scanner.children(of: rootSpan))
        let domainChildren = Array(root.children)
        let spans = scanner.children(of: rootSpan)
        guard spans.count == domainChildren.count else {
            throw .invalidCPU(path: path, line: root.line, message: "cannot locate the elements of <domain> in the file")
        }

        var notes: [String] = []
        let replaced: Range<Int>
        let indent: String
        var text: String
        if let position = domainChildren.firstIndex(where: { $0.name == "cpu" && $0.namespaceURI == nil }) {
            let cpu = domainChildren[position]
            let span = spans[position]
            indent = style.indentation(before: span.start)
            text = renderCPU(plan, existing: cpu, span: span, scanner: scanner, style: style, indent: indent,
                             architecture: architecture, notes: &notes)
            replaced = span.start..<span.end
        } else {
            let anchor = spans.lastIndex { elementsBeforeCPU.contains($0.name) } ?? 0
            let anchorSpan = spans.isEmpty ? nil : spans[anchor]
            indent = anchorSpan.map { style.indentation(before: $0.start) } ?? style.unit
            text = renderCPU(plan, existing: nil, span: nil, scanner: scanner, style: style, indent: indent,
                             architecture: architecture, notes: &notes)
            let at = anchorSpan?.end ?? rootSpan.startTagEnd
            text = style.newline + indent + text
            replaced = at..<at
            notes.append("the domain had no <cpu>; one was added")
        }
        var patched = Array(bytes[..<replaced.lowerBound])
        patched += Array(text.utf8)
        patched += bytes[replaced.upperBound...]
        _ = try XMLDocument.parse(patched, path: path)
        return DomainPatch(original: bytes, patched: patched, notes: notes + plan.notes)
    }

    private static func renderCPU(_ plan: GuestCPUPlan, existing: XMLElement?, span: ElementSpan?,
                                  scanner: ElementScanner, style: DocumentStyle, indent: String,
                                  architecture: CPUArchitecture, notes: inout [String]) -> String {
        let q = style.quote
        let childIndent = style.newline + indent + style.unit
        var attributes = [("mode", plan.mode)]
        if let match = plan.match { attributes.append(("match", match)) }
        attributes.append(("check", plan.check))
        var keptChildren: [String] = []
        var trailingChildren: [String] = []
        var features = plan.features
        if let existing, let span {
            let mode = existing.attribute("mode") ?? "custom"
            if mode == "host-passthrough" || mode == "maximum" {
                notes.append("converted a \(mode) guest: as \(mode) it cannot move between hosts with different CPUs")
            }
            for (name, value) in existing.attributes where !["mode", "match", "check"].contains(name) {
                if name == "migratable" {
                    notes.append("dropped migratable='\(value)', which only \(mode) guests have")
                    continue
                }
                attributes.append((name, value))
            }
            let childSpans = scanner.children(of: span)
            let childElements = Array(existing.children)
            for (element, childSpan) in zip(childElements, childSpans) {
                let original = String(decoding: scanner.bytes[childSpan.start..<childSpan.end], as: UTF8.self)
                switch element.name {
                case "model", "vendor":
                    continue
                case "feature":
                    merge(element, into: &features, plan: plan, architecture: architecture, notes: &notes)
                case "numa":
                    trailingChildren.append(original)
                case "cache" where element.attribute("mode") == "passthrough" && plan.mode != mode:
                    notes.append("dropped <cache mode='passthrough'/>, which libvirt allows only for host-passthrough and maximum CPUs")
                default:
                    keptChildren.append(original)
                }
            }
        }
        var text = "<cpu" + attributes.map { " \($0.0)=\(q)\(escapeXML($0.1))\(q)" }.joined() + ">"
        if let model = plan.model {
            let fallback = plan.fallback.map { " fallback=\(q)\($0)\(q)" } ?? ""
            text += childIndent + "<model\(fallback)>\(escapeXML(model))</model>"
        }
        if let vendor = plan.vendor { text += childIndent + "<vendor>\(escapeXML(vendor))</vendor>" }
        for child in keptChildren { text += childIndent + child }
        for feature in features {
            text += childIndent + "<feature policy=\(q)\(feature.policy.rawValue)\(q) name=\(q)\(escapeXML(feature.name))\(q)/>"
        }
        for child in trailingChildren { text += childIndent + child }
        return text + style.newline + indent + "</cpu>"
    }

    /// Adds an existing `<feature>` to the planned ones unless it duplicates
    /// or contradicts them; the plan wins, and a note says so.
    private static func merge(_ element: XMLElement, into features: inout [GuestCPUPlan.Feature], plan: GuestCPUPlan,
                              architecture: CPUArchitecture, notes: inout [String]) {
        guard let name = element.attribute("name") else { return }
        let policy = element.attribute("policy").flatMap(FeaturePolicy.init(rawValue:)) ?? .require
        // Never write a feature the map in use lacks: that libvirt would refuse the domain.
        guard let canonical = architecture.feature(named: name)?.name else {
            notes.append("dropped <feature policy='\(policy.rawValue)' name='\(name)'/>: the CPU map in use does not define it")
            return
        }
        let matches = { (feature: GuestCPUPlan.Feature) in
            feature.name == name || architecture.feature(named: feature.name)?.name == canonical
        }
        if let planned = features.first(where: matches) {
            if planned.policy != policy, plan.features.contains(planned) {
                notes.append("feature \(name): policy '\(policy.rawValue)' replaced by '\(planned.policy.rawValue)'")
            }
            return
        }
        if (policy == .require || policy == .force), !plan.requirable.contains(canonical) {
            notes.append("dropped <feature policy='\(policy.rawValue)' name='\(name)'/>: not every host can give it to a guest")
            return
        }
        if policy == .forbid, plan.presentOnSomeHost.contains(canonical) {
            notes.append("dropped <feature policy='forbid' name='\(name)'/>: some host has it, so the guest could not start there")
            return
        }
        features.append(.init(policy: policy, name: name))
    }
}

/// How a document is written: quotes, newlines, indentation.
struct DocumentStyle {
    let bytes: [UInt8]
    /// The quote character of the root element's attributes (`'` as libvirt writes, or `"`).
    let quote: Character
    /// `\r\n` if the document uses it, else `\n`.
    let newline: String
    /// One level of indentation, as the root's children are indented.
    let unit: String

    init(bytes: [UInt8], root: ElementSpan, children: [ElementSpan]) {
        self.bytes = bytes
        let rootTag = bytes[root.start..<root.startTagEnd]
        let firstQuote = rootTag.first { $0 == UInt8(ascii: "'") || $0 == UInt8(ascii: "\"") }
        quote = firstQuote == UInt8(ascii: "\"") ? "\"" : "'"
        newline = bytes.firstIndex(of: UInt8(ascii: "\n")).map { $0 > 0 && bytes[$0 - 1] == UInt8(ascii: "\r") } == true ? "\r\n" : "\n"
        let rootIndent = Self.indentation(in: bytes, before: root.start)
        let childIndent = children.first.map { Self.indentation(in: bytes, before: $0.start) } ?? rootIndent + "  "
        unit = childIndent.count > rootIndent.count ? String(childIndent.dropFirst(rootIndent.count)) : "  "
    }

    /// The white space between the start of the line and `offset`.
    func indentation(before offset: Int) -> String { Self.indentation(in: bytes, before: offset) }

    private static func indentation(in bytes: [UInt8], before offset: Int) -> String {
        var start = offset
        while start > 0, bytes[start - 1] == UInt8(ascii: " ") || bytes[start - 1] == UInt8(ascii: "\t") { start -= 1 }
        return String(decoding: bytes[start..<offset], as: UTF8.self)
    }
}
