import Foundation
import Testing
import CPUCompat

/// What a tool author can do with the library alone (a plain `import`, not
/// `@testable`): build inputs in code and run a whole patch.
@Suite struct PublicAPITests {
    private static let map: CPUMap = {
        do { return try CPUMap.builtIn(release: "9.0") } catch { preconditionFailure("the built-in map must load: \(error)") }
    }()

    @Test func aCPUBuiltFromNamesIsTheCPUItsXMLDescribes() throws {
        let built = try CPU(model: "IvyBridge-IBRS", vendor: "Intel", features: ["vmx", "ss"], in: Self.map)
        let xml = "<cpu>\n<arch>x86_64</arch><model>IvyBridge-IBRS</model><vendor>Intel</vendor><feature name='vmx'/><feature name='ss'/></cpu>"
        let read = try Self.map.resolve(CPUDefinitionReader.read(Array(xml.utf8), path: "read.xml")[0])
        #expect(built.features == read.features)
        #expect(built.model == read.model)
        #expect(built.vendor == read.vendor)
        #expect(throws: CPUCompatError.self) { try CPU(model: "IvyBridge-IBRS", features: ["no-such-feature"], in: Self.map) }
    }

    @Test func anArchitectureBuiltInCodeIsCheckedAndUsable() throws {
        let features = ["a", "b", "c"].enumerated().map { CPUFeature(name: $0.element, index: $0.offset) }
        let vendor = CPUVendor(name: "Acme")
        func model(_ name: String, _ index: Int, _ featureIndexes: [Int]) -> CPUModel {
            CPUModel(name: name, index: index, vendor: nil, parent: nil, decodesHost: true, decodesGuest: true,
                     signatures: [], processorVersions: [], features: FeatureSet(featureIndexes), retiredFeatureOrder: [])
        }
        let x86 = try CPUArchitecture(validatingName: "x86", vendors: [vendor], features: features,
                                      models: [model("Small", 0, [0]), model("Big", 1, [0, 1, 2])])
        let map = CPUMap(architectures: [x86])
        // Hosts with {a, b} and {a, b, c}: Big would need c disabled (cost 1 + 1), Small needs b required (cost 1).
        let hosts = try [["a", "b"], ["a", "b", "c"]].map { try CPU(model: "Small", features: $0, in: map) }
        let baseline = try x86.baseline(of: hosts)
        #expect(baseline.model == "Small")
        #expect(baseline.require == ["b"])
        #expect(baseline.disable == [])

        #expect(throws: CPUCompatError.self) {
            try CPUArchitecture(validatingName: "x86", vendors: [], features: [CPUFeature(name: "a", index: 1)], models: [])
        }
        #expect(throws: CPUCompatError.self) {
            try CPUArchitecture(validatingName: "x86", vendors: [], features: features, models: [model("Wide", 0, [5])])
        }
    }

    @Test func aPatchJobWritesItsFileOrNothing() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cpucompat-job-\(getpid())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let hosts = ["kvm02.xml", "kvm03.xml"].map { TestPaths.fixture($0) }
        let domain = TestPaths.fixture("guest01.xml")
        let output = folder + "/guest01.xml"

        let job = DomainPatchJob(domain: domain, target: .hosts(hosts, strategy: .model), destination: .file(output))
        let outcome = try job.run(with: Self.map)
        // The same as the two steps done by hand.
        let x86 = try Self.map.x86Architecture(for: Self.map.readHosts(hosts))
        let plan = try x86.guestPlan(for: Self.map.readHosts(hosts), strategy: .model)
        let byHand = try DomainPatcher.patch(Array(try Data(contentsOf: URL(fileURLWithPath: domain))), path: domain,
                                             plan: plan, architecture: x86)
        #expect(outcome.patched == byHand.patched)
        #expect(outcome.plan == plan)
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: output))) == outcome.patched)

        // A host file that cannot be read stops the job before anything is written.
        let failing = DomainPatchJob(domain: domain, target: .hosts([folder + "/missing.xml"], strategy: .model),
                                     destination: .file(folder + "/never.xml"))
        #expect(throws: CPUCompatError.self) { try failing.run(with: Self.map) }
        #expect(!FileManager.default.fileExists(atPath: folder + "/never.xml"))

        // In place, with a backup that holds the original bytes.
        let copy = folder + "/copy.xml"
        try FileManager.default.copyItem(atPath: domain, toPath: copy)
        let inPlace = try DomainPatchJob(domain: copy, target: .hosts(hosts, strategy: .disable),
                                         destination: .inPlace(backupSuffix: ".orig")).run(with: Self.map)
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: copy))) == inPlace.patched)
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: copy + ".orig"))) == inPlace.original)
        #expect(inPlace.plan.mode == .hostModel)

        // What the CLI's option checks rule out is refused by the job itself.
        for destination in [DomainPatchJob.Destination.inPlace(backupSuffix: nil)] {
            #expect(throws: CPUCompatError.self) {
                try DomainPatchJob(domain: "-", target: .hosts(hosts, strategy: .model), destination: destination).run(with: Self.map)
            }
        }
        #expect(throws: CPUCompatError.self) {
            try DomainPatchJob(domain: domain, target: .hosts(hosts, strategy: .model), destination: .file("-")).run(with: Self.map)
        }
        #expect(!FileManager.default.fileExists(atPath: FileManager.default.currentDirectoryPath + "/-"))
    }

    @Test(arguments: [[0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xC0, 0xAF], [0xF8, 0x88, 0x80, 0x80, 0x80]] as [[UInt8]])
    func aDomainWithBytesThatAreNotUTF8IsRefusedBeforeParsing(bad: [UInt8]) throws {
        // A surrogate, beyond U+10FFFF, an overlong form, a five-byte form: libxml2 refuses each, and cpucompat says why.
        let bytes = Array("<domain type='kvm'>\n  <name>".utf8) + bad + Array("</name>\n  <cpu mode='host-model'/>\n</domain>\n".utf8)
        let plan = try Self.map.x86Architecture(for: []).guestPlan(for: [try CPU(model: "Haswell", features: [], in: Self.map)],
                                                                   strategy: .model)
        #expect(throws: CPUCompatError.malformedXML(path: "d.xml", line: 2, message: "not valid UTF-8, which is how libvirt reads a domain")) {
            try DomainPatcher.patch(bytes, path: "d.xml", plan: plan, architecture: Self.map.x86Architecture(for: []))
        }
    }
}
