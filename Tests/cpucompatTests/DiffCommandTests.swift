import Foundation
import Testing

@Suite struct DiffCommandTests {
    @Test func theStoryHostsDifferByTheNineFeaturesInLibvirtsOrder() throws {
        let result = try CLI.run(["diff", "Fixtures/kvm02.xml", "Fixtures/kvm03.xml"])
        #expect(result.status == 1)
        #expect(result.stderr == "")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains("missing on destination: vmx,fma,movbe,bmi1,avx2,bmi2,invpcid,pdpe1gb,abm"))
        #expect(lines.contains("missing on source: none"))
        #expect(lines.contains("baseline: IvyBridge-IBRS, vendor Intel, fallback allow, level x86-64-v2"))
    }

    @Test func jsonCarriesTheDocumentedFields() throws {
        let result = try CLI.run(["diff", "--format", "json", "Fixtures/kvm02.xml", "Fixtures/kvm03.xml"])
        #expect(result.status == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(object["missingOnDestination"] as? [String] ==
                ["vmx", "fma", "movbe", "bmi1", "avx2", "bmi2", "invpcid", "pdpe1gb", "abm"])
        #expect(object["missingOnSource"] as? [String] == [])
        let source = try #require(object["source"] as? [String: Any])
        #expect(source["path"] as? String == "Fixtures/kvm02.xml")
        #expect(source["model"] as? String == "Haswell-noTSX-IBRS")
        #expect(source["vendor"] as? String == "Intel")
        let destination = try #require(object["destination"] as? [String: Any])
        #expect(destination["model"] as? String == "IvyBridge-IBRS")
        let baseline = try #require(object["baseline"] as? [String: Any])
        #expect(baseline["model"] as? String == "IvyBridge-IBRS")
        #expect(baseline["fallback"] as? String == "allow")
        #expect(baseline["vendor"] as? String == "Intel")
        #expect(baseline["disable"] as? [String] == [])
        #expect((baseline["require"] as? [String])?.first == "ds")
    }

    @Test func aHostEqualToItselfExitsZero() throws {
        let result = try CLI.run(["diff", "Fixtures/kvm03.xml", "Fixtures/kvm03.xml"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("missing on destination: none"))
    }

    @Test func domainCapabilitiesGiveTheSameNineFeatures() throws {
        let result = try CLI.run(["diff", "Fixtures/kvm02-domcaps.xml", "Fixtures/kvm03-domcaps.xml"])
        #expect(result.status == 1)
        #expect(result.stdout.contains("missing on destination: vmx,fma,movbe,bmi1,avx2,bmi2,invpcid,pdpe1gb,abm\n"))
    }

    @Test func standardInputIsADash() throws {
        let input = try String(contentsOfFile: CLI.fixture("kvm02.xml"), encoding: .utf8)
        let result = try CLI.run(["diff", "-", "Fixtures/kvm03.xml"], input: input)
        #expect(result.status == 1)
        #expect(result.stdout.hasPrefix("source:      - (Haswell-noTSX-IBRS, Intel, x86-64-v3)\n"))
    }

    @Test func worksWithTheBuiltInMaps() throws {
        let old = try CLI.run(["diff", "--cpu-map", "built-in:9.0", "Fixtures/kvm02.xml", "Fixtures/kvm03.xml"])
        #expect(old.status == 1)
        #expect(old.stdout.contains("missing on destination: vmx,fma,movbe,bmi1,avx2,bmi2,invpcid,pdpe1gb,abm\n"))
        // libvirt 11.3 and 12.9 define abm before pdpe1gb, and list features in their map's order.
        let new = try CLI.run(["diff", "--cpu-map", "built-in", "Fixtures/kvm02.xml", "Fixtures/kvm03.xml"])
        #expect(new.status == 1)
        #expect(new.stdout.contains("missing on destination: vmx,fma,movbe,bmi1,avx2,bmi2,invpcid,abm,pdpe1gb\n"))
    }
}

@Suite struct BadInputTests {
    static let scratch: String = {
        let path = NSTemporaryDirectory() + "cpucompat-cli-\(getpid())"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }()

    static func file(_ name: String, _ text: String) -> String {
        let path = scratch + "/" + name
        FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
        return path
    }

    @Test(arguments: [
        (["baseline", file("malformed.xml", "<cpu><model>Haswell</model>")], "malformed.xml:1: Premature end of data in tag cpu line 1"),
        (["baseline", file("nocpu.xml", "<domain type='kvm'/>")], "nocpu.xml: no CPU definition found"),
        (["baseline", file("unknown-feature.xml", "<cpu>\n<model>Haswell</model>\n<feature name='flush-l1x'/></cpu>")],
         "unknown-feature.xml:3: Unknown CPU feature flush-l1x"),
        (["baseline", file("unknown-model.xml", "<cpu><model>Haswel</model></cpu>")], "unknown-model.xml:1: Unknown CPU model Haswel: did you mean Haswell?"),
        (["baseline", "/nonexistent/kvm09.xml"], "/nonexistent/kvm09.xml: no such file or directory"),
        (["baseline", "--cpu-map", "/nonexistent/cpu_map", "Fixtures/kvm02.xml"], "/nonexistent/cpu_map: no such CPU map folder or file"),
        (["diff", "Fixtures/kvm02.xml", file("empty.xml", "")], "empty.xml: the file is empty"),
        (["diff", "Fixtures", "Fixtures/kvm02.xml"], "Fixtures: is a directory, not a file"),
    ])
    func badInputIsOneLineOnStandardErrorAndStatusTwo(arguments: [String], message: String) throws {
        let result = try CLI.run(arguments)
        #expect(result.status == 2)
        #expect(result.stdout == "")
        #expect(result.stderr.hasPrefix("cpucompat: "))
        #expect(result.stderr.hasSuffix(message + "\n"))
        #expect(result.stderr.filter { $0 == "\n" }.count == 1)
    }

    @Test func differentVendorsHaveNoBaseline() throws {
        let amd = Self.file("amd.xml", "<cpu><arch>x86_64</arch><model>EPYC</model><vendor>AMD</vendor></cpu>")
        let result = try CLI.run(["baseline", "Fixtures/kvm02.xml", amd])
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix("cpucompat: CPU vendors do not match"))
        let diff = try CLI.run(["diff", "Fixtures/kvm02.xml", amd])
        #expect(diff.status == 1)
        #expect(diff.stdout.contains("baseline: none (CPU vendors do not match"))
    }

    @Test func unknownOptionsAreUsageErrors() throws {
        let result = try CLI.run(["diff", "--bogus", "a", "b"])
        #expect(result.status == 64)
        #expect(result.stdout == "")
    }
}
