/// A `<cpu>` element to write: what `baseline` prints and what `patch` puts
/// into a domain.
struct CPUElement {
    /// The start tag's attributes in order (`mode`, `match`, `check`, then any kept ones).
    var attributes: [(name: String, value: String)]
    /// Namespace declarations kept from the element this one replaces.
    var namespaceDeclarations: [(prefix: String?, uri: String)] = []
    var model: String?
    var fallback: Baseline.Fallback?
    var vendor: String?
    /// Markup copied as it was, written after the model and vendor.
    var kept: [String] = []
    var features: [(policy: FeaturePolicy, name: String)]
    /// Markup copied as it was, written after the features (`<numa>`).
    var trailing: [String] = []
}

/// Writes a `<cpu>` element in a document's style: one child per line,
/// indented one unit deeper than the `<cpu>`, in the document's quotes and
/// line breaks. `baseline`'s XML and `patch` share it.
struct CPUElementWriter {
    /// The quote around attribute values.
    var quote: Character = "'"
    var newline = "\n"
    /// The white space before the `<cpu>` line; the start tag itself is written without it.
    var indent = ""
    /// One level of indentation.
    var unit = "  "

    /// The element, from its `<` to the `>` of its end tag.
    func write(_ cpu: CPUElement) -> String {
        let q = quote
        let line = newline + indent + unit
        var text = "<cpu"
        for (name, value) in cpu.attributes { text += " \(name)=\(q)\(escapeXML(value))\(q)" }
        for (prefix, uri) in cpu.namespaceDeclarations {
            text += " xmlns" + (prefix.map { ":" + $0 } ?? "") + "=\(q)\(escapeXML(uri))\(q)"
        }
        text += ">"
        if let model = cpu.model {
            let fallback = cpu.fallback.map { " fallback=\(q)\($0.rawValue)\(q)" } ?? ""
            text += line + "<model\(fallback)>\(escapeXML(model))</model>"
        }
        if let vendor = cpu.vendor { text += line + "<vendor>\(escapeXML(vendor))</vendor>" }
        for markup in cpu.kept { text += line + markup }
        for (policy, name) in cpu.features {
            text += line + "<feature policy=\(q)\(policy.rawValue)\(q) name=\(q)\(escapeXML(name))\(q)/>"
        }
        for markup in cpu.trailing { text += line + markup }
        return text + newline + indent + "</cpu>"
    }
}
