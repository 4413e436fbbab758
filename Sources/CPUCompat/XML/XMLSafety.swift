internal import CLibXML2

/// Process-wide libxml2 settings that hold whatever options a parse passes.
enum XMLSafety {
    /// Installs, once per process, an external-entity loader that refuses
    /// everything: a second lock behind `XML_PARSE_NONET` and the absence of
    /// `XML_PARSE_NOENT`/`XML_PARSE_DTDLOAD`, so no document can make libxml2
    /// open a file or a URL.
    static func installOnce() { _ = installed }

    private static let installed: Bool = {
        xmlInitParser()
        xmlSetExternalEntityLoader { _, _, _ in nil }
        return true
    }()
}
