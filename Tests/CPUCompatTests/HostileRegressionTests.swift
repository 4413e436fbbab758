import Foundation
import Testing
@testable import CPUCompat

/// Regressions for what the hostile-input review found.
@Suite struct HostileRegressionTests {
    @Test func aLineBreakInANameCannotForgeASecondDiagnosticLine() throws {
        let map = try CPUMap.builtIn()
        let definition = try #require(try CPUDefinitionReader.read(
            Array("<cpu><model>Has&#10;cpucompat: injected</model></cpu>".utf8), path: "f.xml").first)
        let error = #expect(throws: CPUCompatError.self) { try map.resolve(definition) }
        #expect(error?.description == "f.xml:1: Unknown CPU model Has\\ncpucompat: injected")
    }

    @Test func overlongNamesAreShortened() {
        let error = CPUCompatError.unknownModel(name: String(repeating: "a", count: 40_000), path: "f.xml", line: 1)
        #expect(error.description == "f.xml:1: Unknown CPU model " + String(repeating: "a", count: 200) + "…")
    }

    @Test func anIncludeLoopIsAnErrorNotACrash() throws {
        let folder = makeScratchDirectory()
        defer { removeTree(folder) }
        write("<cpus>\n<arch name='x86'>\n<include filename='x86_a.xml'/>\n</arch>\n</cpus>\n", to: folder + "/index.xml")
        write("<cpus>\n<include filename='x86_b.xml'/>\n</cpus>\n", to: folder + "/x86_a.xml")
        write("<cpus>\n<include filename='x86_a.xml'/>\n</cpus>\n", to: folder + "/x86_b.xml")
        let error = #expect(throws: CPUCompatError.self) { try CPUMap(contentsOf: folder) }
        #expect(error?.description == "\(folder)/x86_b.xml:2: include 'x86_a.xml' makes a loop")
    }

    @Test func aDeviceIsRefusedBeforeAnythingIsRead() {
        let error = #expect(throws: CPUCompatError.self) { try CPUDefinitionReader.read(contentsOf: "/dev/zero") }
        #expect(error?.description == "/dev/zero: is a device, not a file")
    }

    @Test func aFileOverTheLimitIsRefusedFromItsSize() throws {
        // A sparse file: 300 MiB long, no block of it written, so refusing it
        // costs nothing and reading it would cost 300 MiB.
        let folder = makeScratchDirectory()
        defer { removeTree(folder) }
        let path = folder + "/huge.xml"
        let descriptor = open(path, O_WRONLY | O_CREAT, 0o644)
        try #require(descriptor >= 0)
        try #require(ftruncate(descriptor, 300 << 20) == 0)
        close(descriptor)
        let error = #expect(throws: CPUCompatError.self) { try CPUDefinitionReader.read(contentsOf: path) }
        #expect(error?.description == "\(path): is larger than 256 MiB")
    }

    @Test func aStreamIsCutAtTheLimit() throws {
        // A pipe has no size: it is read in chunks up to the limit (here a
        // small one, through the same code path as the real 256 MiB).
        var ends: [Int32] = [0, 0]
        try #require(pipe(&ends) == 0)
        let limit = 1 << 20
        // limit + 64 KiB: once the reader has taken more than the limit, what
        // is left fits in the pipe's buffer, so the writer never blocks and
        // is done before the read end closes (no SIGPIPE).
        let done = DispatchSemaphore(value: 0)
        let writeEnd = ends[1]
        let writer = Thread {
            let chunk = [UInt8](repeating: 0x20, count: 4096)
            for _ in 0..<((limit + 65536) / chunk.count) {
                guard chunk.withUnsafeBytes({ Glibc.write(writeEnd, $0.baseAddress, $0.count) }) == chunk.count else { break }
            }
            close(writeEnd)
            done.signal()
        }
        writer.start()
        defer {
            done.wait()
            close(ends[0])
        }
        let error = #expect(throws: CPUCompatError.self) { try FileSystem.read("/dev/fd/\(ends[0])", limit: limit) }
        #expect(error?.description == "/dev/fd/\(ends[0]): is larger than 1 MiB")
    }
}
