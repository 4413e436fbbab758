import Foundation
import Testing

/// The result of running the built `cpucompat` binary.
struct RunResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

enum CLI {
    /// The package root.
    static let package: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    static func fixture(_ name: String) -> String { package + "/Fixtures/" + name }

    /// The `cpucompat` binary built beside the test bundle.
    static let binary: String = {
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        return exe.deletingLastPathComponent().appendingPathComponent("cpucompat").path
    }()

    static let virshInstalled = FileManager.default.isExecutableFile(atPath: "/usr/bin/virsh")

    /// Runs cpucompat with `arguments`, in the package root (or `directory`, relative to it),
    /// feeding `input` on standard input.
    static func run(_ arguments: [String], input: String? = nil, environment: [String: String] = [:],
                    directory: String? = nil) throws -> RunResult {
        try runProgram(binary, arguments, input: input, environment: environment, directory: directory)
    }

    static func runProgram(_ program: String, _ arguments: [String], input: String? = nil,
                           environment: [String: String] = [:], directory: String? = nil) throws -> RunResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory.map { package + "/" + $0 } ?? package)
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "CPUCOMPAT_CPU_MAP")
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let out = Pipe(), err = Pipe(), inPipe = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = inPipe
        try process.run()
        if let input { inPipe.fileHandleForWriting.write(Data(input.utf8)) }
        try inPipe.fileHandleForWriting.close()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return RunResult(status: process.terminationStatus,
                         stdout: String(decoding: stdout, as: UTF8.self),
                         stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// The `<cpu>…</cpu>` element of a capabilities file, for feeding virsh.
    static func hostCPUElement(_ path: String) throws -> String {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        guard let start = text.range(of: "<cpu>"), let end = text.range(of: "</cpu>") else { return "" }
        return String(text[start.lowerBound..<end.upperBound])
    }
}

/// SplitMix64: a seeded generator that gives the same numbers on every
/// platform and Swift version, for generated test inputs.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
