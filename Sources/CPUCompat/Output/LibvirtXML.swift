/// Renders results as libvirt writes them, byte for byte.
extension Baseline {
    /// The baseline as a `<cpu>` element, byte for byte as `virsh
    /// cpu-baseline` prints it, ending in a line break (virsh prints an empty
    /// line after it).
    ///
    /// The features are the ``require`` ones, then the ``disable`` ones, each
    /// in its list's order; for a baseline computed with
    /// ``Options/expandFeatures``, one list sorted by name, as `virsh
    /// cpu-baseline --features` prints it.
    public var libvirtXML: String {
        let entries = sortedEntries ?? require.map { ($0, true) } + disable.map { ($0, false) }
        let cpu = CPUElement(attributes: [("mode", "custom"), ("match", "exact")], model: model, fallback: fallback,
                             vendor: vendor, features: entries.map { ($0.required ? .require : .disable, $0.name) })
        return CPUElementWriter().write(cpu) + "\n"
    }
}

/// `text` with the characters XML reserves replaced by entities (quotes as
/// `&apos;`/`&quot;`, so the result is safe in either attribute style), and
/// line breaks and tabs as character references: written raw into an
/// attribute they would be read back as spaces, so the next run would change
/// the file.
func escapeXML(_ text: String) -> String {
    guard text.unicodeScalars.contains(where: { "<>&'\"\n\r\t".unicodeScalars.contains($0) }) else { return text }
    var result = ""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "<": result += "&lt;"
        case ">": result += "&gt;"
        case "&": result += "&amp;"
        case "'": result += "&apos;"
        case "\"": result += "&quot;"
        case "\n": result += "&#10;"
        case "\r": result += "&#13;"
        case "\t": result += "&#9;"
        default: result.unicodeScalars.append(scalar)
        }
    }
    return result
}
