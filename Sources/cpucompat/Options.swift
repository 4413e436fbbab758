import ArgumentParser
import CPUCompat

/// The option every command that needs the CPU map shares.
struct MapOptions: ParsableArguments {
    @Option(name: .customLong("cpu-map"), help: ArgumentHelp(
        "libvirt's CPU map: a cpu_map folder, a legacy cpu_map.xml, or built-in.",
        discussion: """
            built-in is libvirt 12.9's map; built-in:9.0, built-in:11.3 and built-in:12.9 pick a release \
            (`cpucompat map --list`). Choose the release your hosts run: a model or feature only a newer \
            libvirt knows is refused by an older one. Without this option: $CPUCOMPAT_CPU_MAP, else \
            /usr/share/libvirt/cpu_map, else built-in.
            """,
        valueName: "path"),
        completion: .file())
    var cpuMap: String?

    /// The map the user chose, or the first one found.
    ///
    /// - Parameter usingSnapshots: False to parse a folder's XML even when a
    ///   built-in map or the cache holds it compiled.
    func load(usingSnapshots: Bool = true) throws -> CPUMap {
        try CPUMap.resolve(explicitPath: cpuMap, usingSnapshots: usingSnapshots)
    }
}

/// Output formats of the analysis commands.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json, xml
}

/// Prints `text` to standard output as is.
func emit(_ text: String) {
    print(text, terminator: "")
}

/// Prints one `cpucompat: …` line to standard error.
func warn(_ message: String) {
    var standardError = StandardError()
    print("cpucompat: \(message)", to: &standardError)
}

/// Standard error as a `TextOutputStream`.
struct StandardError: TextOutputStream {
    mutating func write(_ string: String) {
        var bytes = Array(string.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes { Glibc.write(STDERR_FILENO, $0.baseAddress! + offset, $0.count - offset) }
            if written <= 0 { return }
            offset += written
        }
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
        throw ExitCode(2)
    }
}
