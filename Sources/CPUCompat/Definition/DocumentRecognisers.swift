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

/// Knows where one kind of document keeps its CPU.
///
/// `depth` is 1 for the document's root, and `parent` the name of the
/// element's parent ("" for the root).
protocol DocumentRecogniser {
    mutating func recognise(_ element: XMLStreamElement, name: String, depth: Int, parent: String) -> Recognition
    /// The element at `depth` ends.
    mutating func end(depth: Int)
}

extension DocumentRecogniser {
    mutating func end(depth: Int) {}
}

/// `virsh capabilities`: the `<cpu>` of `<host>`.
struct CapabilitiesRecogniser: DocumentRecogniser {
    func recognise(_ element: XMLStreamElement, name: String, depth: Int, parent: String) -> Recognition {
        depth == 3 && name == "cpu" && parent == "host" ? .cpu(.capabilities) : .nothing
    }
}

/// A domain definition: its `<cpu>` (in no namespace, as libvirt reads it)
/// and the architecture of its `<os><type>`.
struct DomainRecogniser: DocumentRecogniser {
    func recognise(_ element: XMLStreamElement, name: String, depth: Int, parent: String) -> Recognition {
        switch (depth, name) {
        case (2, "cpu") where element.isInNoNamespace: .cpu(.domain)
        case (3, "type") where parent == "os": .architecture(element.attribute("arch"))
        default: .nothing
        }
    }
}

/// `virsh domcapabilities`: the supported host-model `<mode>` is the host's
/// CPU, the custom mode's `<model>`s are the models it declares, and the
/// document's `<arch>` is the CPU's.
struct DomainCapabilitiesRecogniser: DocumentRecogniser {
    private var inCustomMode = false

    mutating func recognise(_ element: XMLStreamElement, name: String, depth: Int, parent: String) -> Recognition {
        switch (depth, name) {
        case (2, "arch"):
            return .architectureText
        case (3, "mode") where parent == "cpu":
            let mode = element.attribute("name")
            inCustomMode = mode == "custom"
            guard mode == "host-model", element.attribute("supported") != "no" else { return .nothing }
            return .cpu(.domainCapabilities, mode: "host-model")
        case (4, "model") where inCustomMode:
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
}

/// A bare `<cpu>` (as `virsh cpu-baseline` prints and reads), or any other
/// root holding `<cpu>` children.
struct CPUListRecogniser: DocumentRecogniser {
    func recognise(_ element: XMLStreamElement, name: String, depth: Int, parent: String) -> Recognition {
        (depth == 1 || depth == 2) && name == "cpu" ? .cpu(.cpu) : .nothing
    }
}
