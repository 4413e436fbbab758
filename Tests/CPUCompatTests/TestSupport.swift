import Testing
@testable import CPUCompat

/// Paths the tests use, found from this file's location.
enum TestPaths {
    /// The package root.
    static let package: String = {
        var path = #filePath
        for _ in 0..<3 { path = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)]) }
        return path
    }()

    static let fixtures = package + "/Fixtures"
    /// libvirt's public test data beside the checkout (see ../shared/corpus/README.md).
    static let corpus = package + "/../shared/corpus"
    static let masterMap = corpus + "/cpu_map-libvirt-master"
    static let systemMap = CPUMap.systemPath

    static func fixture(_ name: String) -> String { fixtures + "/" + name }
}

/// A scratch folder under /tmp, removed by the caller.
func makeScratchDirectory() -> String {
    var template = Array("/tmp/cpucompat-test-XXXXXX".utf8CString)
    return template.withUnsafeMutableBufferPointer { buffer in
        guard let base = buffer.baseAddress, let pointer = mkdtemp(base) else { return "/tmp" }
        return String(cString: pointer)
    }
}

/// Writes `text` to `path`.
func write(_ text: String, to path: String) {
    guard let file = fopen(path, "w") else { return }
    fputs(text, file)
    fclose(file)
}

func removeTree(_ path: String) {
    _ = system("rm -rf '\(path)'")
}

#if canImport(Glibc)
import Glibc
#endif

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
