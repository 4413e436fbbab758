import Foundation
import Testing
@testable import CPUCompat

/// `Baseline` is a plain value: what it holds is what `==`, `hash` and
/// `Codable` see, so a decoded baseline is the baseline that was encoded.
@Suite struct BaselineValueTests {
    private static let hosts: (x86: CPUArchitecture, cpus: [CPU]) = {
        do {
            let map = try CPUMap.builtIn(release: "9.0")
            let cpus = try ["kvm02.xml", "kvm03.xml"].map { try map.readSingleHostCPU(contentsOf: TestPaths.fixture($0)) }
            return (try map.x86Architecture(for: cpus), cpus)
        } catch { preconditionFailure("the fixtures must read: \(error)") }
    }()

    @Test(arguments: [false, true])
    func aBaselineSurvivesJSON(expandFeatures: Bool) throws {
        let baseline = try Self.hosts.x86.baseline(of: Self.hosts.cpus, options: .init(expandFeatures: expandFeatures))
        #expect(baseline.listsEveryFeature == expandFeatures)
        let decoded = try JSONDecoder().decode(Baseline.self, from: JSONEncoder().encode(baseline))
        #expect(decoded == baseline)
        #expect(decoded.hashValue == baseline.hashValue)
        // The XML is made from the stored parts alone, so the decoded value prints the same <cpu>.
        #expect(decoded.libvirtXML == baseline.libvirtXML)
    }

    @Test func listingEveryFeatureIsPartOfTheValue() throws {
        let plain = try Self.hosts.x86.baseline(of: Self.hosts.cpus)
        var listed = plain
        listed.listsEveryFeature = true
        #expect(listed != plain)
        // Listed in full, the <feature>s come sorted by name, require and disable mixed, as virsh --features prints them.
        let names = listed.libvirtXML.split(separator: "\n").compactMap { line -> String? in
            guard let start = line.range(of: "name='") else { return nil }
            return String(line[start.upperBound...].prefix { $0 != "'" })
        }
        #expect(names == names.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) })
        #expect(names.count == plain.require.count + plain.disable.count)
    }

    @Test func aCallerCanBuildABaseline() {
        let baseline = Baseline(model: "IvyBridge-IBRS", vendor: "Intel", require: ["ss"], disable: ["vmx"])
        #expect(baseline.libvirtXML == """
        <cpu mode='custom' match='exact'>
          <model fallback='allow'>IvyBridge-IBRS</model>
          <vendor>Intel</vendor>
          <feature policy='require' name='ss'/>
          <feature policy='disable' name='vmx'/>
        </cpu>

        """)
    }
}
