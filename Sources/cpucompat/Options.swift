import CPUCompat

/// The option every command that needs the CPU map shares.
struct MapOptions {
    static let options: [OptionSpec] = [
        .value("cpu-map", "path", completion: .anyFile,
               help: "libvirt's CPU map: a cpu_map folder, a legacy cpu_map.xml, or built-in.",
               discussion: """
                   built-in is libvirt 12.9's map; built-in:9.0, built-in:11.3 and built-in:12.9 pick a release \
                   (`cpucompat map --list`). Choose the release your hosts run: a model or feature only a newer \
                   libvirt knows is refused by an older one. Without this option: $CPUCOMPAT_CPU_MAP, else \
                   /usr/share/libvirt/cpu_map, else built-in.
                   """),
    ]

    let cpuMap: String?

    init(_ arguments: ParsedArguments) {
        cpuMap = arguments.value("cpu-map")
    }

    /// The map the user chose, or the first one found.
    ///
    /// - Parameter usingSnapshots: False to parse a folder's XML even when a
    ///   built-in map or the cache holds it compiled.
    func load(usingSnapshots: Bool = true) throws(CPUCompatError) -> CPUMap {
        try CPUMap.resolve(explicitPath: cpuMap, usingSnapshots: usingSnapshots)
    }
}

/// The output formats of the commands that print a report: each command
/// offers exactly the formats it has, so help and completion offer those.
enum TextOrJSON: String, CaseIterable {
    case text, json

    /// `--format`, text by default.
    static let option = OptionSpec.choice("format", "format", of: TextOrJSON.self, default: .text, help: "Output format: text or json.")
}

/// The output formats of `baseline`: libvirt's `<cpu>`, or JSON.
enum XMLOrJSON: String, CaseIterable {
    case xml, json
}

/// Writes `text` to standard output as is.
///
/// - Throws: `CPUCompatError.unwritable` when the write fails (a full disk,
///   a closed pipe): a result that did not arrive must not exit 0.
func emit(_ text: String) throws(CPUCompatError) {
    try emit(Array(text.utf8))
}

/// Writes `bytes` to standard output: the same bytes `--output` would write,
/// whatever their encoding.
func emit(_ bytes: [UInt8]) throws(CPUCompatError) {
    if let failure = FileDescriptorWriter.write(bytes, to: STDOUT_FILENO) {
        throw .unwritable(path: "standard output", reason: failure)
    }
}

/// Prints one `cpucompat: …` line to standard error, with control
/// characters and line breaks from the input shown escaped, so that no
/// input can forge or split a diagnostic line.
func warn(_ message: String) {
    _ = FileDescriptorWriter.write(Array("cpucompat: \(CPUCompatError.oneLine(message))\n".utf8), to: STDERR_FILENO)
}

/// Standard error as a `TextOutputStream`, for progress lines.
struct StandardError: TextOutputStream {
    mutating func write(_ string: String) {
        _ = FileDescriptorWriter.write(Array(string.utf8), to: STDERR_FILENO)
    }
}

/// Whole writes to a file descriptor.
enum FileDescriptorWriter {
    /// Writes all of `bytes`, retrying short writes and interruptions.
    ///
    /// - Returns: nil on success, else the reason, as the C library words it.
    static func write(_ bytes: [UInt8], to descriptor: Int32) -> String? {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { raw in
                Glibc.write(descriptor, raw.baseAddress.map { $0 + offset }, raw.count - offset)
            }
            if written <= 0 {
                if written < 0, errno == EINTR { continue }
                return String(cString: strerror(written == 0 ? EIO : errno)).lowercased()
            }
            offset += written
        }
        return nil
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// Runs `body`, turning a `CPUCompatError` into one line on standard error
/// and exit status 2.
func reportingErrors<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as CPUCompatError {
        warn(error.description)
        throw ExitStatus.badInput
    }
}
