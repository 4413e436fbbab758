import Testing
@testable import CPUCompat

// Fuzz/Seeds and Fuzz/Regressions (inputs that once broke the patcher) run
// through the patcher with the fuzz target's checks: refused with a
// CPUCompatError (the three that libvirt refuses too), or patched keeping
// every byte outside the replaced range, and unchanged when patched again.

private let fuzzFolder = TestPaths.package + "/Fuzz"

/// The regressions libvirt refuses too: not UTF-8, a default namespace, UTF-16.
private let refusedRegressions: Set<String> = ["shift-jis-cdata.xml", "default-namespace.xml", "utf16-domain.xml"]

struct FuzzCorpusFile: CustomTestStringConvertible, Sendable {
    var folder: String
    var name: String
    var testDescription: String { folder + "/" + name }

    static var all: [FuzzCorpusFile] {
        ["Seeds", "Regressions"].flatMap { folder in
            ((try? FileSystem.contents(ofDirectory: fuzzFolder + "/" + folder)) ?? []).map { FuzzCorpusFile(folder: folder, name: $0) }
        }
    }
}

@Suite struct FuzzCorpusTests {
    @Test func bothFoldersHoldInputs() {
        #expect(FuzzCorpusFile.all.filter { $0.folder == "Seeds" }.count >= 8)
        #expect(FuzzCorpusFile.all.filter { $0.folder == "Regressions" }.count >= 8)
    }

    @Test(arguments: FuzzCorpusFile.all)
    func isRefusedOrPatchedKeepingAllButItsCPU(_ file: FuzzCorpusFile) throws {
        let map = try CPUMap.builtIn(release: "9.0")
        let hosts = try ["kvm02.xml", "kvm03.xml"].map { try map.readSingleCPU(contentsOf: TestPaths.fixture($0)) }
        let architecture = try map.x86Architecture(for: hosts)
        let bytes = try FileSystem.read(fuzzFolder + "/" + file.folder + "/" + file.name)
        for strategy in PatchStrategy.allCases {
            let plan = try architecture.guestPlan(for: hosts, strategy: strategy)
            guard file.folder == "Seeds" || !refusedRegressions.contains(file.name) else {
                #expect(throws: CPUCompatError.self) { try DomainPatcher.patch(bytes, path: file.name, plan: plan, architecture: architecture) }
                continue
            }
            let patch = try DomainPatcher.patch(bytes, path: file.name, plan: plan, architecture: architecture)
            #expect(patch.original[..<patch.replaced.lowerBound].elementsEqual(patch.patched[..<patch.written.lowerBound]))
            #expect(patch.original[patch.replaced.upperBound...].elementsEqual(patch.patched[patch.written.upperBound...]))
            let again = try DomainPatcher.patch(patch.patched, path: file.name, plan: plan, architecture: architecture)
            #expect(again.isUnchanged, "\(strategy): patching the output again changed it")
        }
    }
}
