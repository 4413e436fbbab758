import Testing
@testable import CPUCompat

// Expected labels and settings are written down by hand from the platforms' rules (see
// Sources/CPUCompat/Platforms/) and the input files, or computed here from the files' text,
// never by the code under test.

private let corpusDomcaps = TestPaths.corpus + "/libvirt-domaincaps/"

/// The text of a corpus file; a missing corpus is a failure, not a skip.
private func corpusText(_ name: String) throws -> String {
    let path = corpusDomcaps + name
    let text = try? CPUDefinitionReaderTestText.read(path)
    #expect(text != nil, "the corpus file \(path) is missing: put ../shared/corpus beside the checkout")
    return try #require(text)
}

/// A file's text, read without cpucompat's XML reader.
private enum CPUDefinitionReaderTestText {
    static func read(_ path: String) throws -> String? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = fread(&buffer, 1, buffer.count, file)
            if count <= 0 { break }
            bytes += buffer[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// `(name, usable)` of each custom-mode `<model>` line of a domcapabilities text.
private func declaredModels(in text: String) -> [(name: String, usable: String)] {
    var result: [(String, String)] = []
    for line in text.split(separator: "\n") where line.contains("<model usable=") {
        guard let usableStart = line.range(of: "usable='")?.upperBound,
              let usableEnd = line[usableStart...].firstIndex(of: "'"),
              let nameStart = line.range(of: ">")?.upperBound,
              let nameEnd = line[nameStart...].range(of: "</model>")?.lowerBound else { continue }
        result.append((String(line[nameStart..<nameEnd]), String(line[usableStart..<usableEnd])))
    }
    return result
}

#if canImport(Glibc)
import Glibc
#endif

@Suite struct KubeVirtLabelTests {
    /// libvirt 9.0's x86_Haswell-noTSX-IBRS.xml, in its order.
    static let haswellNoTSXIBRS = "fpu,de,pse,tsc,msr,pae,mce,cx8,apic,sep,mtrr,pge,mca,cmov,pat,pse36,clflush,mmx,fxsr,sse,sse2,pni,pclmuldq,ssse3,fma,cx16,pcid,sse4.1,sse4.2,x2apic,movbe,popcnt,tsc-deadline,aes,xsave,avx,fsgsbase,bmi1,avx2,smep,bmi2,erms,invpcid,spec-ctrl,syscall,nx,rdtscp,lm,lahf_lm"
    /// kvm02-domcaps.xml's host-model `require` features.
    static let kvm02Required = ["vme", "ss", "vmx", "pdcm", "f16c", "rdrand", "arat", "md-clear", "stibp", "ssbd", "xsaveopt", "pdpe1gb", "abm"]

    @Test func kvm02LabelsAreTheNodeLabellersRules() throws {
        let map = try CPUMap.builtIn(release: "9.0")
        let host = try map.readSingleHostCPU(contentsOf: TestPaths.fixture("kvm02-domcaps.xml"))
        let node = try #require(map.x86).kubeVirtNode(host, name: "kvm02")
        var expected: [String: String] = [:]
        for feature in Self.haswellNoTSXIBRS.split(separator: ",").map(String.init) + Self.kvm02Required {
            expected["cpu-feature.node.kubevirt.io/\(feature)"] = "true"
        }
        // usable='yes' in the file, less KubeVirt's obsolete models (486, Conroe, Opteron_G1, Opteron_G2,
        // core2duo, coreduo, kvm32, kvm64, n270, pentium, pentium2, pentium3, qemu32, qemu64).
        let models = ["Haswell-noTSX", "Haswell-noTSX-IBRS", "IvyBridge", "IvyBridge-IBRS", "Nehalem", "Nehalem-IBRS",
                      "Penryn", "SandyBridge", "SandyBridge-IBRS", "Westmere", "Westmere-IBRS"]
        for model in models {
            expected["cpu-model.node.kubevirt.io/\(model)"] = "true"
            expected["cpu-model-migration.node.kubevirt.io/\(model)"] = "true"
        }
        expected["host-model-cpu.node.kubevirt.io/Haswell-noTSX-IBRS"] = "true"
        for feature in Self.kvm02Required { expected["host-model-required-features.node.kubevirt.io/\(feature)"] = "true" }
        expected["cpu-vendor.node.kubevirt.io/Intel"] = "true"
        #expect(node.labels == expected)
        #expect(node.labels.count == 62 + 22 + 1 + 13 + 1)
    }

    @Test func theClusterModelIsTheBestModelEveryNodeLabels() throws {
        let map = try CPUMap.builtIn(release: "9.0")
        let kvm02 = try map.readSingleHostCPU(contentsOf: TestPaths.fixture("kvm02-domcaps.xml"))
        let kvm03 = try map.readSingleHostCPU(contentsOf: TestPaths.fixture("kvm03-domcaps.xml"))
        let export = try #require(map.x86).kubeVirtExport(of: [("kvm02", kvm02), ("kvm03", kvm03)])
        // kvm03 (Ivy Bridge) marks no Haswell model usable: the newest common one is IvyBridge-IBRS.
        #expect(export.cpuModel == "IvyBridge-IBRS")
        #expect(export.commonModels.first == "IvyBridge-IBRS")
        #expect(!export.commonModels.contains("Haswell-noTSX"))
    }

    @Test func anObsoleteHostModelGetsTheObsoleteLabelInstead() throws {
        let map = try CPUMap.builtIn(release: "9.0")
        let host = try map.readSingleHostCPU(contentsOf: TestPaths.fixture("kvm02-domcaps.xml"))
        let node = try #require(map.x86).kubeVirtNode(host, name: "kvm02", obsoleteModels: ["Haswell-noTSX-IBRS", "Penryn"])
        #expect(node.labels["node-labeller.kubevirt.io/obsolete-host-model"] == "true")
        #expect(node.labels["cpu-model-migration.node.kubevirt.io/Haswell-noTSX-IBRS"] == nil)
        #expect(node.labels["cpu-model.node.kubevirt.io/Penryn"] == nil)
        #expect(node.labels["host-model-cpu.node.kubevirt.io/Haswell-noTSX-IBRS"] == "true")
    }

    @Test func aCapabilitiesFileIsRefused() throws {
        let map = try CPUMap.builtIn(release: "9.0")
        let host = try map.readSingleHostCPU(contentsOf: TestPaths.fixture("kvm02.xml"))
        #expect(throws: CPUCompatError.self) { try #require(map.x86).kubeVirtNode(host, name: "kvm02") }
    }

    @Test(arguments: ["qemu_11.0.0-q35.x86_64.xml", "qemu_11.1.0-q35.x86_64.xml"])
    func corpusQEMU11Host(_ name: String) throws {
        let text = try corpusText(name)
        let map = try CPUMap.builtIn(release: "12.9")
        let host = try map.readSingleHostCPU(contentsOf: corpusDomcaps + name)
        let node = try #require(map.x86).kubeVirtNode(host, name: "turin")
        // Model labels: every model line whose usable is not 'no', less the obsolete list.
        let obsolete: Set<String> = ["486", "pentium", "pentium2", "pentium3", "pentiumpro", "coreduo", "n270", "core2duo",
                                     "Conroe", "athlon", "phenom", "qemu64", "qemu32", "kvm64", "kvm32", "Opteron_G1", "Opteron_G2"]
        let expectedModels = declaredModels(in: text).filter {
            $0.usable != "no" && !obsolete.contains($0.name) && !($0.name.hasSuffix("-v1") && obsolete.contains(String($0.name.dropLast(3))))
        }.map(\.name)
        #expect(!expectedModels.isEmpty)
        #expect(node.models == expectedModels)
        #expect(Set(node.labels.keys.filter { $0.hasPrefix("cpu-model.node.kubevirt.io/") })
                == Set(expectedModels.map { "cpu-model.node.kubevirt.io/" + $0 }))
        // The host-model: EPYC-Turin, AMD, the 13 `require` features; pcid, rdseed, la57 are disabled.
        #expect(node.labels["host-model-cpu.node.kubevirt.io/EPYC-Turin"] == "true")
        #expect(node.labels["cpu-model-migration.node.kubevirt.io/EPYC-Turin"] == "true")
        #expect(node.labels["cpu-vendor.node.kubevirt.io/AMD"] == "true")
        var required = ["x2apic", "tsc-deadline", "hypervisor", "tsc_adjust", "spec-ctrl", "stibp", "flush-l1d", "ssbd",
                        "cmp_legacy", "invtsc", "virt-ssbd", "tsa-sq-no", "tsa-l1-no"]
        if name.hasPrefix("qemu_11.1") { required.append("cet-ss") }
        #expect(Set(node.labels.keys.filter { $0.hasPrefix("host-model-required-features.") })
                == Set(required.map { "host-model-required-features.node.kubevirt.io/" + $0 }))
        for disabled in ["pcid", "rdseed", "la57"] { #expect(node.labels["cpu-feature.node.kubevirt.io/" + disabled] == nil) }
        for present in ["avx512f", "invtsc", "svm", "sha-ni"] { #expect(node.labels["cpu-feature.node.kubevirt.io/" + present] == "true") }
    }
}

@Suite struct NovaSettingsTests {
    @Test func fixtures() throws {
        let map = try CPUMap.builtIn(release: "9.0")
        let hosts = try map.readHosts([TestPaths.fixture("kvm02-domcaps.xml"), TestPaths.fixture("kvm03-domcaps.xml")])
        let export = try #require(map.x86).novaExport(of: hosts)
        #expect(export.cpuMode == "custom")
        #expect(export.cpuModels == ["IvyBridge-IBRS"])
        // kvm03's host-model is IvyBridge-IBRS plus these; kvm02 has them all. In map order.
        #expect(export.extraFlags == ["ss", "pdcm", "pcid", "arat", "md-clear", "stibp", "ssbd", "xsaveopt"])
        #expect(export.runnableModels.last == "IvyBridge-IBRS")
        #expect(export.runnableModels.first == "Conroe" || export.runnableModels.first == "Penryn")
        // IvyBridge-IBRS's features through Nova's table: sse3 is pni, CLMUL is pclmuldq.
        let ivy = ["HW_CPU_X86_AESNI", "HW_CPU_X86_AVX", "HW_CPU_X86_CLMUL", "HW_CPU_X86_F16C", "HW_CPU_X86_MMX",
                   "HW_CPU_X86_SSE", "HW_CPU_X86_SSE2", "HW_CPU_X86_SSE3", "HW_CPU_X86_SSE41", "HW_CPU_X86_SSE42",
                   "HW_CPU_X86_SSSE3"]
        #expect(export.hosts[1].traits == ivy)
        #expect(export.hosts[0].traits == (ivy + ["HW_CPU_X86_ABM", "HW_CPU_X86_AVX2", "HW_CPU_X86_BMI", "HW_CPU_X86_BMI2",
                                                   "HW_CPU_X86_FMA3", "HW_CPU_X86_INTEL_VMX", "HW_CPU_X86_VMX"]).sorted())
        #expect(export.warnings.isEmpty)
        #expect(export.ini.contains("\n[libvirt]\ncpu_mode = custom\ncpu_models = IvyBridge-IBRS\ncpu_model_extra_flags = ss, pdcm, pcid, arat, md-clear, stibp, ssbd, xsaveopt\n"))
    }

    @Test func moreModelsAreListedOldestFirst() throws {
        let map = try CPUMap.builtIn(release: "9.0")
        let hosts = try map.readHosts([TestPaths.fixture("kvm02-domcaps.xml"), TestPaths.fixture("kvm03-domcaps.xml")])
        let export = try #require(map.x86).novaExport(of: hosts, modelCount: 3)
        #expect(export.cpuModels == ["SandyBridge-IBRS", "IvyBridge", "IvyBridge-IBRS"])
    }

    @Test func corpusQEMU11Hosts() throws {
        let old = try corpusText("qemu_11.0.0-q35.x86_64.xml")
        let new = try corpusText("qemu_11.1.0-q35.x86_64.xml")
        let map = try CPUMap.builtIn(release: "12.9")
        let hosts = try map.readHosts([corpusDomcaps + "qemu_11.0.0-q35.x86_64.xml", corpusDomcaps + "qemu_11.1.0-q35.x86_64.xml"])
        let export = try #require(map.x86).novaExport(of: hosts)
        let usableInBoth = Set(declaredModels(in: old).filter { $0.usable == "yes" }.map(\.name))
            .intersection(declaredModels(in: new).filter { $0.usable == "yes" }.map(\.name))
        #expect(!export.cpuModels.isEmpty)
        for model in export.runnableModels { #expect(usableInBoth.contains(model), "\(model) is not usable='yes' in both files") }
        // invtsc is on both hosts, migratable='no': never an extra flag.
        #expect(export.nonMigratableLeftOut.contains("invtsc"))
        #expect(!export.extraFlags.contains("invtsc"))
        for traits in export.hosts.map(\.traits) {
            for trait in ["HW_CPU_X86_SVM", "HW_CPU_X86_AMD_SVM", "HW_CPU_X86_SSE3", "HW_CPU_X86_CLMUL", "HW_CPU_X86_AVX512F", "HW_CPU_X86_SHA"] {
                #expect(traits.contains(trait))
            }
            #expect(!traits.contains("HW_CPU_X86_VMX"))
        }
    }
}

@Suite struct UpgradePreflightTests {
    @Test func theHandMadeUpgradePair() throws {
        let map = try CPUMap.builtIn(release: "9.0")
        let x86 = try #require(map.x86)
        let before = try map.readSingleHostCPU(contentsOf: TestPaths.fixture("upgrade/kvm02-before.xml"))
        let after = try map.readSingleHostCPU(contentsOf: TestPaths.fixture("upgrade/kvm02-after.xml"))
        let web01 = try map.readSingleCPU(contentsOf: TestPaths.fixture("domains/web01-custom-numa.xml"))
        let guest01 = try map.readSingleCPU(contentsOf: TestPaths.fixture("guest01.xml"))
        let report = x86.upgradePreflight(before: before, after: after, guests: [web01, guest01])
        // What Fixtures/upgrade/README.md says each edit must give.
        #expect(report.featuresAppeared == ["hypervisor", "tsc_adjust"])
        #expect(report.featuresVanished == ["vmx"])
        #expect(report.renamedFeatures == [.init(before: "md-clear", after: "md_clear")])
        #expect(report.modelsNewlyDeprecated == ["Westmere"])
        #expect(report.modelsGone == ["n270"])
        #expect(report.modelsNoLongerUsable.isEmpty)
        #expect(report.guests.map(\.path) == [web01.definition.path, guest01.definition.path])
        #expect(report.guests[0].breaks.count == 1 && report.guests[0].breaks[0].hasSuffix("missing features: vmx"))
        #expect(report.guests[1].breaks.count == 2)
        #expect(report.somethingBreaks)
    }

    @Test func aModelThatIsNoLongerUsable() throws {
        let map = try CPUMap.builtIn(release: "9.0")
        let before = try map.readSingleHostCPU(contentsOf: TestPaths.fixture("kvm02-domcaps.xml"))
        var definition = before.definition
        definition.declaredModels = definition.declaredModels.map {
            var model = $0
            if model.name == "Haswell-noTSX-IBRS" { model.usable = "no" }
            return model
        }
        let after = try map.resolve(definition)
        let guest = try map.resolve(CPUDefinition(source: .cpu, mode: "custom", match: "exact", model: "Haswell-noTSX-IBRS"))
        let report = try #require(map.x86).upgradePreflight(before: before, after: after, guests: [guest])
        #expect(report.modelsNoLongerUsable == ["Haswell-noTSX-IBRS"])
        #expect(report.featuresAppeared.isEmpty && report.featuresVanished.isEmpty)
        #expect(report.guests.first?.breaks == ["QEMU no longer offers its model Haswell-noTSX-IBRS as usable on the upgraded host"])
        #expect(report.somethingBreaks)
    }

    @Test func theSameFileTwiceBreaksNothing() throws {
        let map = try CPUMap.builtIn(release: "9.0")
        let host = try map.readSingleHostCPU(contentsOf: TestPaths.fixture("kvm02-domcaps.xml"))
        let guest01 = try map.readSingleCPU(contentsOf: TestPaths.fixture("guest01.xml"))
        let report = try #require(map.x86).upgradePreflight(before: host, after: host, guests: [guest01])
        #expect(!report.somethingBreaks)
        #expect(report.guests.isEmpty)
    }

    @Test func corpusQEMU11UpgradeAddsCETShadowStacks() throws {
        _ = try corpusText("qemu_11.0.0-q35.x86_64.xml")
        let map = try CPUMap.builtIn(release: "12.9")
        let before = try map.readSingleHostCPU(contentsOf: corpusDomcaps + "qemu_11.0.0-q35.x86_64.xml")
        let after = try map.readSingleHostCPU(contentsOf: corpusDomcaps + "qemu_11.1.0-q35.x86_64.xml")
        let x86 = try #require(map.x86)
        let report = x86.upgradePreflight(before: before, after: after)
        #expect(report.featuresAppeared == ["cet-ss"])
        #expect(report.featuresVanished.isEmpty && report.renamedFeatures.isEmpty && report.modelsNoLongerUsable.isEmpty)
        #expect(report.somethingBreaks)
        #expect(!x86.upgradePreflight(before: before, after: after, allowNewFeatures: true).somethingBreaks)
    }
}
