internal import CLibXML2

/// The libxml2 parser options cpucompat uses, as a Swift option set.
///
/// Only options that make parsing safer, or read documents as libvirt does, appear here. Options that load or
/// expand outside content (`XML_PARSE_NOENT`, `XML_PARSE_DTDLOAD`,
/// `XML_PARSE_XINCLUDE`) or lift libxml2's limits (`XML_PARSE_HUGE`,
/// `XML_PARSE_RECOVER`) are deliberately not representable.
struct XMLParseOptions: OptionSet, Sendable {
    let rawValue: Int32

    /// Corresponds to `XML_PARSE_NONET`: never fetch anything over the network.
    static let noNetwork = XMLParseOptions(rawValue: Int32(XML_PARSE_NONET.rawValue))
    /// Corresponds to `XML_PARSE_NOERROR`: do not print errors; we collect them.
    static let noErrorReports = XMLParseOptions(rawValue: Int32(XML_PARSE_NOERROR.rawValue))
    /// Corresponds to `XML_PARSE_NOWARNING`: do not print warnings.
    static let noWarningReports = XMLParseOptions(rawValue: Int32(XML_PARSE_NOWARNING.rawValue))
    /// Corresponds to `XML_PARSE_NOCDATA`: merge CDATA sections into text nodes.
    static let mergeCDATA = XMLParseOptions(rawValue: Int32(XML_PARSE_NOCDATA.rawValue))
    /// Corresponds to `XML_PARSE_IGNORE_ENC`: ignore the XML declaration's `encoding`.
    static let ignoreDeclaredEncoding = XMLParseOptions(rawValue: Int32(XML_PARSE_IGNORE_ENC.rawValue))

    /// What every cpucompat parse uses.
    static let safe: XMLParseOptions = [.noNetwork, .noErrorReports, .noWarningReports, .mergeCDATA]
}
