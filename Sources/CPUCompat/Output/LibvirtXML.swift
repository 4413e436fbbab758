/// Renders results as libvirt writes them, byte for byte.
extension Baseline {
    /// The baseline as a `<cpu>` element, exactly as `virsh cpu-baseline` prints it.
    public var libvirtXML: String {
        var xml = "<cpu mode='custom' match='exact'>\n"
        xml += "  <model fallback='\(fallback.rawValue)'>\(escapeXML(model))</model>\n"
        if let vendor { xml += "  <vendor>\(escapeXML(vendor))</vendor>\n" }
        let entries = sortedEntries ?? require.map { ($0, true) } + disable.map { ($0, false) }
        for (name, required) in entries {
            xml += "  <feature policy='\(required ? "require" : "disable")' name='\(escapeXML(name))'/>\n"
        }
        return xml + "</cpu>\n"
    }
}

/// `text` with the characters XML reserves replaced by entities (quotes as
/// `&apos;`/`&quot;`, so the result is safe in either attribute style).
func escapeXML(_ text: String) -> String {
    guard text.contains(where: { "<>&'\"".contains($0) }) else { return text }
    var result = ""
    for character in text {
        switch character {
        case "<": result += "&lt;"
        case ">": result += "&gt;"
        case "&": result += "&amp;"
        case "'": result += "&apos;"
        case "\"": result += "&quot;"
        default: result.append(character)
        }
    }
    return result
}
