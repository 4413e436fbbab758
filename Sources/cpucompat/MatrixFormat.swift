import CPUCompat

/// The output formats of `matrix`: the report (text, JSON) or a picture of it.
enum MatrixFormat: String, CaseIterable {
    case text, json, svg, html, dot
}

/// Where `matrix` writes its result: standard output as it is made, or
/// (`--output FILE`) the whole result at once, replacing the file
/// atomically, so that a failure never leaves half a picture behind.
struct ResultOutput {
    /// The file, or nil for standard output.
    private let path: String?
    private let followSymlinks: Bool
    private var collected: [UInt8] = []

    init(path: String?, followSymlinks: Bool) {
        self.path = path == "-" ? nil : path
        self.followSymlinks = followSymlinks
    }

    mutating func write(_ text: String) throws(CPUCompatError) {
        if path == nil { try emit(text) } else { collected += text.utf8 }
    }

    /// Writes the collected result to the file, if there is one.
    func finish() throws(CPUCompatError) {
        if let path { try SafeFileUpdate.write(collected, to: path, followSymlinks: followSymlinks) }
    }
}
