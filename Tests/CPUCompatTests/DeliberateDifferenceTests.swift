import Foundation
import Testing
@testable import CPUCompat

// cpucompat's deliberate difference from libvirt, tested on real files:
// a domcapabilities host-model CPU's `policy='disable'` features are missing
// from that host's guests, so cpucompat counts them as missing. libvirt cannot
// baseline a domcapabilities file at all ("Missing CPU architecture"), and
// reads a host CPU's features whatever their policy: given the same CPU as a
// host `<cpu>`, it counts the disabled features as present.
//
// Each case checks, against the real virsh of the release:
// 1. on the host form (every listed feature, policies dropped) both tools print
//    the same bytes: where there is no difference, there is none;
// 2. on the domcapabilities file, cpucompat's output differs from that only by
//    the disabled features: each one virsh requires or keeps is, in ours,
//    disabled (if the model has it) or not required (if it does not).

@Suite("Deliberate differences from libvirt, on real domcapabilities")
struct DeliberateDifferenceTests {
    static let folder = TestPaths.corpus + "/libvirt-domaincaps"
    static let files = ["qemu_11.0.0-q35.x86_64.xml", "qemu_11.1.0-q35.x86_64.xml"]
    static var corpusPresent: Bool { FileManager.default.fileExists(atPath: folder) }

    // Only 12.9 of our releases knows these hosts' model, EPYC-Turin.
    @Test(.enabled(if: Oracle.v12_9.isAvailable, Oracle.v12_9.skipReason),
          .enabled(if: corpusPresent, "the corpus folder ../shared/corpus/libvirt-domaincaps is absent: SKIPPED"),
          arguments: files)
    func disabledHostModelFeaturesAreMissing12_9(file: String) throws {
        try disabledHostModelFeaturesAreMissing(file: file, oracle: .v12_9)
    }

    /// A crafted domcapabilities where the disabled feature is one of the
    /// model's own (the corpus's are not all), on the story's Haswell host.
    @Test(.enabled(if: Oracle.v9_0.isAvailable, Oracle.v9_0.skipReason))
    func aDisabledModelFeatureIsDisabledInTheBaseline() throws {
        let scratch = makeScratchDirectory()
        defer { removeTree(scratch) }
        let path = scratch + "/crafted-domcaps.xml"
        write("""
            <domainCapabilities>
              <path>/usr/bin/qemu-system-x86_64</path>
              <domain>kvm</domain>
              <arch>x86_64</arch>
              <cpu>
                <mode name='host-model' supported='yes'>
                  <model fallback='forbid'>Haswell-noTSX-IBRS</model>
                  <vendor>Intel</vendor>
                  <feature policy='require' name='vmx'/>
                  <feature policy='disable' name='avx2'/>
                  <feature policy='disable' name='pcid'/>
                </mode>
              </cpu>
            </domainCapabilities>

            """, to: path)
        try disabledHostModelFeaturesAreMissing(path: path, label: "crafted", oracle: .v9_0,
                                                expectDisabled: ["avx2", "pcid"])
    }

    private func disabledHostModelFeaturesAreMissing(file: String, oracle: Oracle) throws {
        try disabledHostModelFeaturesAreMissing(path: Self.folder + "/" + file, label: file, oracle: oracle,
                                                expectDisabled: nil)
    }

    private func disabledHostModelFeaturesAreMissing(path: String, label: String, oracle: Oracle,
                                                     expectDisabled: [String]?) throws {
        let map = try CPUMap(contentsOf: oracle.mapPath)
        let x86 = try #require(map.x86)
        let bytes = try FileSystem.read(path)
        let definition = try #require(try CPUDefinitionReader.read(bytes, path: label).first)
        let disabled = definition.features.filter { $0.policy == .disable }.map(\.name)
        try #require(!disabled.isEmpty, "\(label) has policy='disable' features")
        if let expectDisabled { #expect(disabled == expectDisabled) }
        let model = try #require(definition.model.flatMap(x86.model(named:)))

        // libvirt reads the disable policy as nothing: the same CPU as a host CPU.
        var hostForm = "<cpu>\n  <arch>x86_64</arch>\n  <model>\(model.name)</model>\n"
        if let vendor = definition.vendor { hostForm += "  <vendor>\(vendor)</vendor>\n" }
        for feature in definition.features { hostForm += "  <feature name='\(feature.name)'/>\n" }
        hostForm += "</cpu>\n"
        let scratch = makeScratchDirectory()
        defer { removeTree(scratch) }
        let hostFile = scratch + "/host-form.xml"
        write(hostForm, to: hostFile)

        for expand in [false, true] {
            let virsh = try oracle.virsh(file: hostFile, expand: expand)
            try #require(virsh.status == 0, "virsh \(oracle.release) on the host form of \(label): \(virsh.stderr)")
            guard case let .success(sameInput) = Oracle.ours(xml: hostForm, path: "host-form.xml", map: map, x86: x86,
                                                             expand: expand) else {
                Issue.record("cpucompat failed on the host form of \(label)")
                continue
            }
            #expect(sameInput == virsh.stdout, "the host form of \(label), --features \(expand)")

            let cpu = try map.resolve(definition)
            let ours = try x86.baseline(of: [cpu], options: .init(expandFeatures: expand)).libvirtXML + "\n"
            let lines = { (text: String) in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) }
            let theirsWithout = lines(virsh.stdout).filter { line in
                !disabled.contains { line == "  <feature policy='require' name='\($0)'/>" }
            }
            let oursWithout = lines(ours).filter { line in
                !disabled.contains { line == "  <feature policy='disable' name='\($0)'/>" }
            }
            #expect(oursWithout == theirsWithout, "\(label) with --features \(expand): ours\n\(ours)\nvirsh's\n\(virsh.stdout)")
            for name in disabled {
                #expect(!ours.contains("policy='require' name='\(name)'"), "\(label): \(name) is disabled on the host")
                if model.features.contains(try #require(x86.feature(named: name)).index) {
                    #expect(ours.contains("<feature policy='disable' name='\(name)'/>"), "\(label): \(name)")
                }
            }
        }
    }
}
