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

    @Test func anEndlessFileIsRefusedAtTheSizeLimit() {
        let error = #expect(throws: CPUCompatError.self) { try CPUDefinitionReader.read(contentsOf: "/dev/zero") }
        #expect(error?.description == "/dev/zero: is larger than 256 MiB")
    }
}
