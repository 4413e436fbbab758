import ArgumentParser
import CPUCompat

/// The option every command that needs the CPU map shares.
struct MapOptions: ParsableArguments {
    @Option(name: .customLong("cpu-map"), help: ArgumentHelp(
        "libvirt's CPU map: a cpu_map folder, a legacy cpu_map.xml, or built-in.",
        discussion: "Without it: $CPUCOMPAT_CPU_MAP, else /usr/share/libvirt/cpu_map, else the built-in map (libvirt 9.0.0).",
        valueName: "path"),
        completion: .file())
    var cpuMap: String?

    /// The map the user chose, or the first one found.
    func load() throws -> CPUMap {
        try CPUMap.resolve(explicitPath: cpuMap)
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
