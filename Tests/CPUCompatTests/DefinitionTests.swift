import Foundation
import Testing
@testable import CPUCompat

/// The built-in map of libvirt 9.0, the story's hosts' release: always present, and equal to libvirt 9.0's (see BuiltInMapTests).
private let map: CPUMap = {
    do { return try CPUMap.builtIn(release: "9.0") } catch { preconditionFailure("the built-in map must load: \(error)") }
}()

private func read(_ xml: String, path: String = "test.xml") throws -> [CPUDefinition] {
    try CPUDefinitionReader.read(Array(xml.utf8), path: path)
}

@Suite struct ReaderTests {
    @Test func readsABareHostCPU() throws {
        let definitions = try read("""
        <cpu>
          <arch>x86_64</arch>
          <model>IvyBridge-IBRS</model>
          <vendor>Intel</vendor>
          <feature name='vmx'/>
        </cpu>
        """)
        #expect(definitions.count == 1)
        let cpu = try #require(definitions.first)
        #expect(cpu.model == "IvyBridge-IBRS")
        #expect(cpu.vendor == "Intel")
        #expect(cpu.arch == "x86_64")
        #expect(cpu.describesHost)
        #expect(cpu.features == [.init(name: "vmx", policy: nil, line: 5)])
    }

    @Test func textBetweenConcatenatedDocumentsIsRefused() throws {
        // libxml2 calls a second root and stray text alike "content after the root"; only the first is a file of documents.
        #expect(throws: CPUCompatError.malformedXML(path: "test.xml", line: nil, message: "text between the documents of the file")) {
            try read("<cpu><model>Haswell</model></cpu>\nstray words\n<cpu><model>Nehalem</model></cpu>")
        }
        #expect(throws: CPUCompatError.self) { try read("<cpu><model>Haswell</model></cpu>\nstray words") }
        #expect(try read("<cpu><model>Haswell</model></cpu>\n  \n<cpu><model>Nehalem</model></cpu>\n").count == 2)
        // `cat a.xml b.xml` of files that start with a byte order mark (and a declaration) is still two documents.
        let bom = "\u{FEFF}"
        #expect(try read(bom + "<?xml version='1.0'?>\n<cpu><model>Haswell</model></cpu>\n" + bom + "<cpu><model>Nehalem</model></cpu>\n").count == 2)
    }

    @Test func whatFollowsTheHostCPUIsStillParsedThoughNotRead() throws {
        // After the host <cpu> the reader stops taking events, but libxml2 parses on: a file
        // broken or cut after it is refused, and one whole is read as before.
        let fixture = String(decoding: try FileSystem.read(TestPaths.fixture("kvm02.xml")), as: UTF8.self)
        let end = try #require(fixture.range(of: "</cpu>"))
        let guestStart = try #require(fixture.range(of: "<guest>"))
        #expect(guestStart.lowerBound > end.upperBound)
        #expect(try read(fixture).count == 1)
        let truncated = String(fixture[..<guestStart.upperBound])
        #expect(throws: CPUCompatError.self) { try read(truncated) }
        let mismatched = fixture.replacingFirst("</guest>", with: "</gues>")
        #expect(mismatched != fixture)
        #expect(throws: CPUCompatError.self) { try read(mismatched) }
        let secondRoot = fixture + "<capabilities>"
        #expect(throws: CPUCompatError.self) { try read(secondRoot) }
        // A domcapabilities' custom-mode models sit inside its <cpu>, before the stop.
        let domcaps = try CPUDefinitionReader.read(contentsOf: TestPaths.fixture("kvm02-domcaps.xml"))
        #expect(domcaps.first?.declaredModels.isEmpty == false)
        let domcapsText = String(decoding: try FileSystem.read(TestPaths.fixture("kvm02-domcaps.xml")), as: UTF8.self)
        let devices = try #require(domcapsText.range(of: "<devices>"))
        #expect(throws: CPUCompatError.self) { try read(String(domcapsText[..<devices.upperBound])) }
    }

    @Test func aDomainCapabilitiesModeIsRecognisedOnlyWhereLibvirtPutsIt() throws {
        // A <mode> outside <cpu>, and a <cpu> outside <host> in capabilities, are not the host's CPU.
        #expect(throws: CPUCompatError.noCPU(path: "test.xml")) {
            try read("<domainCapabilities><mode name='host-model'><model>Haswell</model></mode></domainCapabilities>")
        }
        #expect(throws: CPUCompatError.noCPU(path: "test.xml")) {
            try read("<capabilities><guest><cpu><model>Haswell</model></cpu></guest></capabilities>")
        }
        let host = try read("<capabilities><host><cpu><model>Haswell</model></cpu></host></capabilities>")
        #expect(host.map(\.source) == [.capabilities])
    }

    @Test func readsConcatenatedCPUsOnTheirOwnLines() throws {
        let definitions = try read("""
        <?xml version="1.0"?>
        <cpu><model>Haswell</model></cpu>
        <cpu mode='custom' match='exact'>
          <model>Nehalem</model>
          <feature policy='disable' name='sse4.2'/>
        </cpu>
        """)
        #expect(definitions.map(\.model) == ["Haswell", "Nehalem"])
        #expect(definitions.map(\.line) == [2, 3])
        #expect(definitions[1].features.first?.policy == .disable)
        #expect(definitions[1].features.first?.line == 5)
        #expect(!definitions[1].describesHost)
    }

    @Test func readsCapabilitiesHostCPU() throws {
        let definitions = try CPUDefinitionReader.read(contentsOf: TestPaths.fixture("kvm02.xml"))
        #expect(definitions.map(\.source) == [.capabilities])
        #expect(definitions.first?.model == "Haswell-noTSX-IBRS")
        #expect(definitions.first?.features.contains { $0.name == "vmx" } == true)
    }

    @Test func readsDomainCapabilitiesHostModel() throws {
        let definitions = try CPUDefinitionReader.read(contentsOf: TestPaths.fixture("kvm03-domcaps.xml"))
        let cpu = try #require(definitions.first)
        #expect(definitions.count == 1)
        #expect(cpu.source == .domainCapabilities)
        #expect(cpu.mode == "host-model")
        #expect(cpu.arch == "x86_64")
        #expect(cpu.model == "IvyBridge-IBRS")
        #expect(cpu.features.allSatisfy { $0.policy == .require || $0.policy == .disable })
    }

    @Test func readsADomainCPU() throws {
        let definitions = try CPUDefinitionReader.read(contentsOf: TestPaths.fixture("guest01.xml"))
        #expect(definitions.map(\.source) == [.domain])
        #expect(definitions.first?.mode == "host-model")
        #expect(definitions.first?.arch == "x86_64")
    }

    @Test(arguments: [
        ("<domain type='kvm'><name>x</name></domain>", "test.xml: no CPU definition found"),
        ("<capabilities><host/></capabilities>", "test.xml: no CPU definition found"),
        ("<cpu><model>Haswell</model>", "test.xml:1: Premature end of data in tag cpu line 1"),
        ("", "test.xml: the file is empty"),
        ("<cpu><feature policy='maybe' name='vmx'/></cpu>", "test.xml:1: invalid CPU feature policy 'maybe' for vmx"),
        ("<!DOCTYPE cpu [<!ENTITY x SYSTEM 'file:///etc/passwd'>]><cpu><model>&x;</model></cpu>",
         "test.xml:1: a DOCTYPE is not accepted (cpucompat reads libvirt XML, which has none)"),
    ])
    func rejectsDocumentsWithoutAUsableCPU(xml: String, message: String) {
        let error = #expect(throws: CPUCompatError.self) { try read(xml) }
        #expect(error?.description == message)
    }

    @Test func reportsAMissingFile() {
        let error = #expect(throws: CPUCompatError.self) {
            try CPUDefinitionReader.read(contentsOf: "/nonexistent/kvm09.xml")
        }
        #expect(error?.description == "/nonexistent/kvm09.xml: no such file or directory")
    }
}

@Suite struct FeatureAlgebraTests {
    @Test func featuresAreModelPlusAddedMinusRemoved() throws {
        let x86 = try #require(map.x86)
        let definition = try #require(try read("""
        <cpu mode='custom' match='exact'>
          <model>IvyBridge-IBRS</model>
          <vendor>Intel</vendor>
          <feature policy='require' name='vmx'/>
          <feature policy='require' name='sse4_1'/>
          <feature policy='disable' name='avx'/>
          <feature policy='forbid' name='rdrand'/>
        </cpu>
        """).first)
        let cpu = try map.resolve(definition)
        let model = try #require(x86.model(named: "IvyBridge-IBRS"))
        let index = { (name: String) in x86.feature(named: name)?.index ?? -1 }
        #expect(cpu.model?.name == "IvyBridge-IBRS")
        #expect(cpu.vendor?.string == "GenuineIntel")
        #expect(cpu.features.contains(index("vmx")))
        #expect(cpu.features.contains(index("sse4.1")), "an alias resolves to its feature")
        #expect(!cpu.features.contains(index("avx")))
        #expect(!cpu.features.contains(index("rdrand")))
        #expect(cpu.forbidden == FeatureSet([index("rdrand")]))
        var expected = model.features
        expected.insert(index("vmx"))
        expected.remove(index("avx"))
        expected.remove(index("rdrand"))
        #expect(cpu.features == expected)
    }

    @Test(arguments: [
        ("<cpu><model>Haswell</model><feature name='flush-l1x'/></cpu>", "test.xml:1: Unknown CPU feature flush-l1x"),
        ("<cpu><model>Haswell</model><feature name='flush-l1d'/></cpu>",
         "test.xml:1: Unknown CPU feature flush-l1d: libvirt 9.0.0's CPU map lacks it; libvirt 11.3 and 12.9 define it (use --cpu-map built-in:12.9)"),
        ("<cpu><model>EPYC-Genoa</model></cpu>",
         "test.xml:1: Unknown CPU model EPYC-Genoa: libvirt 9.0.0's CPU map lacks it; libvirt 11.3 and 12.9 define it (use --cpu-map built-in:12.9)"),
        ("<cpu><model>YongFeng</model></cpu>",
         "test.xml:1: Unknown CPU model YongFeng: libvirt 9.0.0's CPU map lacks it; libvirt 12.9 defines it (use --cpu-map built-in:12.9)"),
        ("<cpu>\n<model>Skylake-Clinet</model></cpu>", "test.xml:1: Unknown CPU model Skylake-Clinet: did you mean Skylake-Client?"),
        ("<cpu><model>Haswell</model><vendor>Cyrix</vendor></cpu>", "test.xml:1: Unknown CPU vendor Cyrix"),
        ("<cpu><arch>s390x</arch><model>z14</model></cpu>", "test.xml:1: the CPU map has no architecture s390x"),
    ])
    func unknownNamesAreErrorsNamingTheFile(xml: String, message: String) throws {
        let definition = try #require(try read(xml).first)
        let error = #expect(throws: CPUCompatError.self) { try map.resolve(definition) }
        #expect(error?.description == message)
    }

    @Test func setOperationsFollowSetAlgebra() {
        let a = FeatureSet([1, 5, 64, 130])
        let b = FeatureSet([5, 130, 200])
        #expect(Array(a.intersection(b)) == [5, 130])
        #expect(Array(a.union(b)) == [1, 5, 64, 130, 200])
        #expect(Array(a.subtracting(b)) == [1, 64])
        #expect(FeatureSet([5, 130]).isSubset(of: a))
        #expect(!b.isSubset(of: a))
        #expect(a.count == 4)
        #expect(FeatureSet([3]).union(FeatureSet([300])).subtracting(FeatureSet([300])) == FeatureSet([3]),
                "equality ignores trailing empty words")
        #expect(FeatureSet().isEmpty && FeatureSet([7]).subtracting(FeatureSet([7])).isEmpty)
    }
}

private extension String {
    func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let range = range(of: target) else { return self }
        return replacingCharacters(in: range, with: replacement)
    }
}
