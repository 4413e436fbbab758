/// A domain definition with its `<cpu>` replaced, every other byte kept.
public struct DomainPatch: Hashable, Sendable {
    /// The document as read.
    public var original: [UInt8]
    /// The document with the new `<cpu>`.
    public var patched: [UInt8]
    /// What the user should know: conversions, replaced or dropped entries, left-out features.
    public var notes: [String]
    /// The bytes of `original` that were replaced: the old `<cpu>`, or an
    /// empty range where a new one was inserted.
    public var replaced: Range<Int>
    /// The bytes of `patched` that replace them; every byte before and after
    /// is the original's.
    public var written: Range<Int>

    /// Whether the patch changes nothing (the domain already had this `<cpu>`).
    public var isUnchanged: Bool { original == patched }
}

/// Replaces a domain's `<cpu>` element in the original bytes.
///
/// A small pipeline over plain values: one libxml2 parse gives the domain's
/// meaning and the byte range of each part (`DomainLayout`); the plan and the
/// old `<cpu>` give the new element; `CPUElementWriter` writes it in the
/// document's style; the bytes are spliced, not re-serialised, so comments,
/// quote style, empty elements, white space, namespaced metadata and the XML
/// declaration all stay as they were; and the result is parsed again to check
/// that the new `<cpu>` is exactly where it was put. Patching a patched domain
/// again gives the same bytes.
///
/// From the old `<cpu>`, the new one keeps: attributes other than `mode`,
/// `match`, `check` and `migratable`; namespace declarations; comments and
/// processing instructions; children other than `<model>`, `<vendor>` and
/// `<feature>` (a `<cache mode='passthrough'>` only if the mode stays); and
/// existing features that agree with the plan.
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
    /// - Throws: `CPUCompatError` when the document is malformed, not a domain
    ///   libvirt would read, or holds more than one `<cpu>`.
    public static func patch(_ bytes: [UInt8], path: String, plan: GuestCPUPlan,
                             architecture: CPUArchitecture) throws(CPUCompatError) -> DomainPatch {
        let layout = try DomainLayout.read(bytes, path: path)
        let style = DocumentStyle(layout)
        var notes: [String] = []
        if !layout.foreignCPULines.isEmpty {
            let lines = layout.foreignCPULines.map(String.init).joined(separator: ", ")
            notes.append("left alone the <cpu> in a namespace on line \(lines): libvirt does not read it")
        }
        let replaced: Range<Int>
        let lead: String
        var writer = style.writer
        let existing = layout.cpu
        if let existing {
            writer.indent = style.indentation(before: existing.span.start)
            replaced = existing.span.range
            lead = ""
        } else {
            let (offset, indent) = insertionPoint(in: layout, style: style)
            writer.indent = indent
            replaced = offset..<offset
            lead = style.newline + indent
            notes.append("the domain had no <cpu>; one was added")
        }
        let element = cpuElement(for: plan, replacing: existing, in: layout.bytes, architecture: architecture, notes: &notes)
        let text = Array((lead + writer.write(element)).utf8)

        var patched: [UInt8] = []
        patched.reserveCapacity(bytes.count - replaced.count + text.count)
        patched += bytes[..<replaced.lowerBound]
        patched += text
        patched += bytes[replaced.upperBound...]
        let newCPU = (replaced.lowerBound + lead.utf8.count)..<(replaced.lowerBound + text.count)
        try verify(patched, path: path, cpu: newCPU, mode: plan.mode,
                   childCount: layout.children.count + (existing == nil ? 1 : 0))
        return DomainPatch(original: bytes, patched: patched, notes: notes + plan.notes, replaced: replaced,
                           written: replaced.lowerBound..<(replaced.lowerBound + text.count))
    }

    /// Where a new `<cpu>` goes: after the last element libvirt writes before
    /// it, else first in `<domain>`; and its indentation.
    private static func insertionPoint(in layout: DomainLayout, style: DocumentStyle) -> (offset: Int, indent: String) {
        if let anchor = layout.children.last(where: { $0.isLibvirts && elementsBeforeCPU.contains($0.name) }) {
            return (anchor.span.end, style.indentation(before: anchor.span.start))
        }
        let indent = layout.children.first.map { style.indentation(before: $0.span.start) }
            ?? style.indentation(before: layout.root.start) + style.unit
        return (layout.root.startTagEnd, indent)
    }

    /// The new `<cpu>`: the plan, and what the old one holds that the plan
    /// does not decide.
    private static func cpuElement(for plan: GuestCPUPlan, replacing existing: DomainLayout.ExistingCPU?, in bytes: [UInt8],
                                   architecture: CPUArchitecture, notes: inout [String]) -> CPUElement {
        var attributes = [("mode", plan.mode.rawValue)]
        if let match = plan.match { attributes.append(("match", match.rawValue)) }
        attributes.append(("check", plan.check.rawValue))
        var element = CPUElement(attributes: attributes, model: plan.model, fallback: plan.fallback, vendor: plan.vendor,
                                 features: [])
        var merger = FeatureMerger(plan: plan, architecture: architecture)
        if let existing {
            let mode = existing.attributes.first { !$0.isPrefixed && $0.name == "mode" }?.value ?? GuestCPUMode.custom.rawValue
            if GuestCPUMode(rawValue: mode)?.isHostBound == true {
                notes.append("converted a \(mode) guest: as \(mode) it cannot move between hosts with different CPUs")
            }
            for attribute in existing.attributes {
                if !attribute.isPrefixed, ["mode", "match", "check"].contains(attribute.name) { continue }
                if !attribute.isPrefixed, attribute.name == "migratable" {
                    notes.append("dropped migratable='\(attribute.value)', which only \(mode) guests have")
                    continue
                }
                element.attributes.append((attribute.name, attribute.value))
            }
            element.namespaceDeclarations = existing.namespaceDeclarations
            for part in existing.parts {
                switch part {
                case let .other(range):
                    element.kept.append(String(decoding: bytes[range], as: UTF8.self))
                case let .element(name, isLibvirts, partAttributes, span):
                    let markup = String(decoding: bytes[span.range], as: UTF8.self)
                    let value = { (key: String) in partAttributes.first { !$0.isPrefixed && $0.name == key }?.value }
                    switch name {
                    case _ where !isLibvirts:
                        element.kept.append(markup)
                    case "model", "vendor":
                        continue
                    case "feature":
                        merger.add(name: value("name"), policy: value("policy"))
                    case "numa":
                        element.trailing.append(markup)
                    case "cache" where value("mode") == "passthrough" && plan.mode.rawValue != mode:
                        notes.append("dropped <cache mode='passthrough'/>, which libvirt allows only for host-passthrough and maximum CPUs")
                    default:
                        element.kept.append(markup)
                    }
                }
            }
        }
        element.features = merger.features.map { ($0.policy, $0.name) }
        notes += merger.notes
        return element
    }

    /// Parses the patched document again and checks that its `<cpu>` is
    /// exactly the bytes written, in the mode planned, and that no other
    /// child of `<domain>` appeared or went.
    private static func verify(_ patched: [UInt8], path: String, cpu expected: Range<Int>, mode: GuestCPUMode,
                               childCount: Int) throws(CPUCompatError) {
        let report = "(please report this domain to cpucompat; nothing was written)"
        let layout: DomainLayout
        do {
            layout = try DomainLayout.read(patched, path: path, extraAttributes: 3)
        } catch {
            throw .invalidCPU(path: path, line: nil, message: "the patched domain would not be read back: \(error) \(report)")
        }
        let written = layout.cpu?.attributes.first { !$0.isPrefixed && $0.name == "mode" }?.value
        guard layout.cpu?.span.range == expected, written == mode.rawValue, layout.children.count == childCount else {
            throw .invalidCPU(path: path, line: nil, message: "the new <cpu> is not where it was written \(report)")
        }
    }
}

/// Adds a domain's existing `<feature>`s to the planned ones, in linear time,
/// unless they duplicate or contradict the plan or cannot hold on every host;
/// the plan wins, and the notes say what was dropped or replaced.
struct FeatureMerger {
    private(set) var features: [GuestCPUPlan.Feature]
    private let architecture: CPUArchitecture
    private let plannedCount: Int
    /// Canonical name → position in `features`.
    private var positions: [String: Int] = [:]
    private let requirable: Set<String>
    private let presentOnSomeHost: Set<String>
    /// What was dropped or replaced, by reason.
    private enum Change { case unknown, replaced, unobtainable, presentSomewhere }
    private var changes: [Change: [String]] = [:]
    /// What the notes name already: a feature listed many times is named once.
    private var noted: Set<String> = []

    init(plan: GuestCPUPlan, architecture: CPUArchitecture) {
        features = plan.features
        plannedCount = plan.features.count
        self.architecture = architecture
        requirable = Set(plan.requirable)
        presentOnSomeHost = Set(plan.presentOnSomeHost)
        for (position, feature) in features.enumerated() {
            positions[architecture.feature(named: feature.name)?.name ?? feature.name] = position
        }
    }

    /// Considers an existing `<feature name=… policy=…>`.
    mutating func add(name: String?, policy text: String?) {
        guard let name else { return }
        let policy = text.flatMap(FeaturePolicy.init(rawValue:)) ?? .require
        let element = "<feature policy='\(policy.rawValue)' name='\(name)'/>"
        // Never write a feature the map in use lacks: libvirt would refuse the domain.
        guard let canonical = architecture.feature(named: name)?.name else { return note(element, .unknown) }
        if let position = positions[canonical] {
            let planned = features[position]
            if position < plannedCount, planned.policy != policy {
                note("\(name) '\(policy.rawValue)' → '\(planned.policy.rawValue)'", .replaced, key: canonical)
            }
            return
        }
        if policy == .require || policy == .force, !requirable.contains(canonical) { return note(element, .unobtainable) }
        if policy == .forbid, presentOnSomeHost.contains(canonical) { return note(element, .presentSomewhere) }
        positions[canonical] = features.count
        features.append(.init(policy: policy, name: name))
    }

    private mutating func note(_ item: String, _ change: Change, key: String? = nil) {
        if noted.insert("\(change) \(key ?? item)").inserted { changes[change, default: []].append(item) }
    }

    /// One note per kind of change, naming the features.
    var notes: [String] {
        let unknown = changes[.unknown] ?? [], replaced = changes[.replaced] ?? []
        let unobtainable = changes[.unobtainable] ?? [], presentSomewhere = changes[.presentSomewhere] ?? []
        var notes: [String] = []
        if !unknown.isEmpty { notes.append("dropped \(Self.listing(unknown)): the CPU map in use does not define \(Self.them(unknown))") }
        if !replaced.isEmpty { notes.append("the plan's policy wins over the domain's: \(Self.listing(replaced))") }
        if !unobtainable.isEmpty {
            notes.append("dropped \(Self.listing(unobtainable)): not every host can give \(Self.them(unobtainable)) to a guest")
        }
        if !presentSomewhere.isEmpty {
            notes.append("dropped \(Self.listing(presentSomewhere)): some host has \(Self.them(presentSomewhere)), "
                         + "so the guest could not start there")
        }
        return notes
    }

    private static func them(_ items: [String]) -> String { items.count == 1 ? "it" : "them" }

    /// The first ten items, and how many more.
    private static func listing(_ items: [String]) -> String {
        let shown = items.prefix(10).joined(separator: ", ")
        return items.count > 10 ? "\(shown) and \(items.count - 10) more" : shown
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

    init(_ layout: DomainLayout) {
        let bytes = layout.bytes
        self.bytes = bytes
        let rootTag = bytes[layout.root.start..<layout.root.startTagEnd]
        let firstQuote = rootTag.first { $0 == UInt8(ascii: "'") || $0 == UInt8(ascii: "\"") }
        quote = firstQuote == UInt8(ascii: "\"") ? "\"" : "'"
        newline = bytes.firstIndex(of: UInt8(ascii: "\n")).map { $0 > 0 && bytes[$0 - 1] == UInt8(ascii: "\r") } == true ? "\r\n" : "\n"
        // Measured on a child the patch never writes, so a second run sees the same unit.
        let rootIndent = Self.indentation(in: bytes, before: layout.root.start)
        let sample = layout.children.first { $0.name != "cpu" }.map { Self.indentation(in: bytes, before: $0.span.start) }
        if let sample, sample.count > rootIndent.count, sample.hasPrefix(rootIndent) {
            unit = String(sample.dropFirst(rootIndent.count))
        } else {
            unit = "  "
        }
    }

    /// A writer in this style, for an element at the start of a line.
    var writer: CPUElementWriter { CPUElementWriter(quote: quote, newline: newline, indent: "", unit: unit) }

    /// The white space between the start of the line and `offset`.
    func indentation(before offset: Int) -> String { Self.indentation(in: bytes, before: offset) }

    private static func indentation(in bytes: [UInt8], before offset: Int) -> String {
        var start = offset
        while start > 0, bytes[start - 1] == UInt8(ascii: " ") || bytes[start - 1] == UInt8(ascii: "\t") { start -= 1 }
        return String(decoding: bytes[start..<offset], as: UTF8.self)
    }
}
