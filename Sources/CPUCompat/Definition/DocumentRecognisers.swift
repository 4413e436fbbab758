/// What an element outside any `<cpu>` being read means in a document.
enum Recognition {
    case nothing
    /// The element is a CPU definition of this source (in `mode`, where the
    /// element's own `mode` attribute does not say).
    case cpu(CPUDefinition.Source, mode: String? = nil)
    /// The document's architecture, from an attribute.
    case architecture(String?)
    /// The document's architecture is the element's text.
    case architectureText
    /// A model the document declares, whose name is the element's text.
    case declaredModel(CPUDefinition.DeclaredModel)
}

/// The local names of the elements the readers look at, told apart by
/// comparing bytes; every other name is `.other`.
enum ElementName: UInt8 {
    case cpu, host, domain, os, type, mode, model, arch, vendor, feature, capabilities, domainCapabilities, other

    init(_ element: XMLStreamElement) {
        self = element.localName(in: Self.named) ?? .other
    }

    /// The names, for matching.
    private static let named: [(StaticString, ElementName)] = [
        ("feature", .feature), ("cpu", .cpu), ("model", .model), ("vendor", .vendor), ("arch", .arch), ("host", .host),
        ("domain", .domain), ("os", .os), ("type", .type), ("mode", .mode), ("capabilities", .capabilities),
        ("domainCapabilities", .domainCapabilities),
    ]
}

/// Knows where one kind of document keeps its CPU.
///
/// `depth` is 1 for the document's root, and `parent` the name of the
/// element's parent (`.other` for the root).
protocol DocumentRecogniser {
    mutating func recognise(_ element: XMLStreamElement, name: ElementName, depth: Int, parent: ElementName) -> Recognition
    /// The element at `depth` ends.
    mutating func end(depth: Int)
    /// Whether, once the element `name` at `depth` (whose parent is `parent`)
    /// ends, nothing more of the document is read.
    func readsNothingAfter(_ name: ElementName, depth: Int, parent: ElementName) -> Bool
}

extension DocumentRecogniser {
    mutating func end(depth: Int) {}
    func readsNothingAfter(_ name: ElementName, depth: Int, parent: ElementName) -> Bool { false }
}

/// `virsh capabilities`: the `<cpu>` of `<host>`.
struct CapabilitiesRecogniser: DocumentRecogniser {
    func recognise(_ element: XMLStreamElement, name: ElementName, depth: Int, parent: ElementName) -> Recognition {
        depth == 3 && name == .cpu && parent == .host ? .cpu(.capabilities) : .nothing
    }

    /// The host `<cpu>` is all a capabilities document has for us; the NUMA
    /// topology, security models and guests after it are most of its bytes.
    func readsNothingAfter(_ name: ElementName, depth: Int, parent: ElementName) -> Bool {
        depth == 3 && name == .cpu && parent == .host
    }
}

/// A domain definition: its `<cpu>` (in no namespace, as libvirt reads it)
/// and the architecture of its `<os><type>`.
struct DomainRecogniser: DocumentRecogniser {
    func recognise(_ element: XMLStreamElement, name: ElementName, depth: Int, parent: ElementName) -> Recognition {
        switch (depth, name) {
        case (2, .cpu) where element.isInNoNamespace: .cpu(.domain)
        case (3, .type) where parent == .os: .architecture(element.attribute("arch"))
        default: .nothing
        }
    }
}

/// `virsh domcapabilities`: the supported host-model `<mode>` is the host's
/// CPU, the custom mode's `<model>`s are the models it declares, and the
/// document's `<arch>` is the CPU's.
struct DomainCapabilitiesRecogniser: DocumentRecogniser {
    private var inCustomMode = false

    mutating func recognise(_ element: XMLStreamElement, name: ElementName, depth: Int, parent: ElementName) -> Recognition {
        switch (depth, name) {
        case (2, .arch):
            return .architectureText
        case (3, .mode) where parent == .cpu:
            let mode = element.attribute("name")
            inCustomMode = mode == "custom"
            guard mode == "host-model", element.attribute("supported") != "no" else { return .nothing }
            return .cpu(.domainCapabilities, mode: "host-model")
        case (4, .model) where inCustomMode:
            return .declaredModel(.init(name: "", usable: element.attribute("usable"),
                                        deprecated: element.attribute("deprecated") == "yes",
                                        canonical: element.attribute("canonical")))
        default:
            return .nothing
        }
    }

    mutating func end(depth: Int) {
        if depth == 3 { inCustomMode = false }
    }

    /// After the `<cpu>` come the devices and features, which say nothing of the CPU.
    func readsNothingAfter(_ name: ElementName, depth: Int, parent: ElementName) -> Bool {
        depth == 2 && name == .cpu
    }
}

/// A bare `<cpu>` (as `virsh cpu-baseline` prints and reads), or any other
/// root holding `<cpu>` children.
struct CPUListRecogniser: DocumentRecogniser {
    func recognise(_ element: XMLStreamElement, name: ElementName, depth: Int, parent: ElementName) -> Recognition {
        (depth == 1 || depth == 2) && name == .cpu ? .cpu(.cpu) : .nothing
    }
}
