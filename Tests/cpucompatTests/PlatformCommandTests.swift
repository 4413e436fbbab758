import Foundation
import Testing

// `export kubevirt`, `export nova` and `preflight` run as the binary: output shapes and exit statuses.

@Suite struct PlatformCommandTests {
    static let nineMap = ["--cpu-map", "built-in:9.0"]
    static let kvm02 = "Fixtures/kvm02-domcaps.xml", kvm03 = "Fixtures/kvm03-domcaps.xml"

    @Test func kubeVirtYAMLIsANodeLabelsPatchPerNodeAndTheClusterModel() throws {
        let result = try CLI.run(["export", "kubevirt"] + Self.nineMap + ["node-a=" + Self.kvm02, Self.kvm03])
        #expect(result.status == 0, "\(result.stderr)")
        let documents = result.stdout.components(separatedBy: "\n---\n")
        #expect(documents.count == 3)
        #expect(result.stdout.hasPrefix("---\n"))
        // Every line of a node document is a comment, a plain key, or a quoted label with value "true".
        for document in documents.prefix(2) {
            for line in document.split(separator: "\n") where line.hasPrefix("    ") {
                #expect(line.hasPrefix("    \"") && line.hasSuffix("\": \"true\""), "unexpected label line \(line)")
            }
            #expect(document.contains("\napiVersion: v1\nkind: Node\nmetadata:\n"))
        }
        #expect(documents[0].contains("  name: \"node-a\"\n  labels:\n"))
        #expect(documents[1].contains("  name: \"kvm03\"\n"))
        #expect(documents[0].contains("    \"host-model-cpu.node.kubevirt.io/Haswell-noTSX-IBRS\": \"true\""))
        #expect(!documents[1].contains("cpu-model.node.kubevirt.io/Haswell"))
        #expect(documents[2].hasSuffix("kind: KubeVirt\nmetadata:\n  name: \"kubevirt\"\n  namespace: \"kubevirt\"\nspec:\n  configuration:\n    cpuModel: \"IvyBridge-IBRS\"\n"))
    }

    @Test func kubeVirtJSONAndKubectl() throws {
        let json = try CLI.run(["export", "kubevirt", "--format", "json"] + Self.nineMap + [Self.kvm02, Self.kvm03])
        #expect(json.status == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(object["cpuModel"] as? String == "IvyBridge-IBRS")
        let nodes = try #require(object["nodes"] as? [[String: Any]])
        #expect(nodes.map { $0["name"] as? String } == ["kvm02", "kvm03"])
        #expect((nodes[0]["labels"] as? [String: String])?["cpu-vendor.node.kubevirt.io/Intel"] == "true")

        let kubectl = try CLI.run(["export", "kubevirt", "--format", "kubectl", "--kubevirt", "openshift-cnv/kubevirt-kubevirt-hyperconverged"]
                                  + Self.nineMap + [Self.kvm03])
        let lines = kubectl.stdout.split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines[0].hasPrefix("kubectl label node kvm03 --overwrite cpu-feature.node.kubevirt.io/"))
        #expect(lines[1] == "kubectl patch kubevirt kubevirt-kubevirt-hyperconverged -n openshift-cnv --type merge -p '{\"spec\":{\"configuration\":{\"cpuModel\":\"IvyBridge-IBRS\"}}}'")
    }

    @Test func kubeVirtRefusesCapabilitiesAndBadUsage() throws {
        let caps = try CLI.run(["export", "kubevirt"] + Self.nineMap + ["Fixtures/kvm02.xml"])
        #expect(caps.status == 2)
        #expect(caps.stderr.hasPrefix("cpucompat: Fixtures/kvm02.xml:") && caps.stderr.contains("is not `virsh domcapabilities` output"))
        #expect(caps.stdout.isEmpty)
        #expect(try CLI.run(["export", "kubevirt", "--kubevirt", "nonamespace", Self.kvm02]).status == 64)
        #expect(try CLI.run(["export", "kubevirt", "=" + Self.kvm02]).status == 64)
    }

    @Test func novaIniAndJSON() throws {
        let ini = try CLI.run(["export", "nova"] + Self.nineMap + [Self.kvm02, Self.kvm03])
        #expect(ini.status == 0, "\(ini.stderr)")
        #expect(ini.stdout.hasSuffix("[libvirt]\ncpu_mode = custom\ncpu_models = IvyBridge-IBRS\ncpu_model_extra_flags = ss, pdcm, pcid, arat, md-clear, stibp, ssbd, xsaveopt\n"))
        let json = try CLI.run(["export", "nova", "--format", "json", "--models", "2"] + Self.nineMap + [Self.kvm02, Self.kvm03])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(object["cpuModels"] as? [String] == ["IvyBridge", "IvyBridge-IBRS"])
        #expect(try CLI.run(["export", "nova", "--models", "0", Self.kvm02]).status == 64)
        let caps = try CLI.run(["export", "nova"] + Self.nineMap + ["Fixtures/kvm02.xml", "Fixtures/kvm03.xml"])
        #expect(caps.status == 0)
        #expect(caps.stderr.contains("cpucompat: Fixtures/kvm02.xml is not `virsh domcapabilities` output"))
    }

    @Test func preflightExitStatuses() throws {
        let pair = ["Fixtures/upgrade/kvm02-before.xml", "Fixtures/upgrade/kvm02-after.xml"]
        let broken = try CLI.run(["preflight"] + Self.nineMap + pair + ["Fixtures/domains/web01-custom-numa.xml", "Fixtures/domains/legacy02-nocpu.xml"])
        #expect(broken.status == 1)
        #expect(broken.stdout.contains("host-model features that vanished: vmx "))
        #expect(broken.stdout.contains("renamed features: md-clear -> md_clear\n"))
        #expect(broken.stdout.contains("guest Fixtures/domains/web01-custom-numa.xml (custom): breaks: it would no longer start on the upgraded host: guest CPU doesn't match specification: missing features: vmx\n"))
        #expect(broken.stdout.hasSuffix("verdict: the upgrade breaks something\n"))
        #expect(broken.stderr == "cpucompat: Fixtures/domains/legacy02-nocpu.xml: no <cpu>: the guest runs QEMU's default model; not checked\n")

        let same = try CLI.run(["preflight"] + Self.nineMap + [pair[0], pair[0], "Fixtures/guest01.xml"])
        #expect(same.status == 0)
        #expect(same.stdout.hasSuffix("verdict: nothing breaks\n"))

        let json = try CLI.run(["preflight", "--format", "json"] + Self.nineMap + pair)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(object["featuresAppeared"] as? [String] == ["hypervisor", "tsc_adjust"])
        #expect(object["somethingBreaks"] as? Bool == true)

        let bad = try CLI.run(["preflight"] + Self.nineMap + [pair[0], "Fixtures/guest01.xml"])
        #expect(bad.status == 2)
        #expect(bad.stderr.hasPrefix("cpucompat: Fixtures/guest01.xml"))
        #expect(try CLI.run(["preflight", pair[0]]).status == 64)

        // A capabilities CPU lists features a host-model CPU leaves out: kinds are not compared across.
        let kinds = try CLI.run(["preflight"] + Self.nineMap + ["Fixtures/kvm02-domcaps.xml", "Fixtures/kvm02.xml"])
        #expect(kinds.status == 2)
        #expect(kinds.stdout.isEmpty)
        #expect(kinds.stderr == "cpucompat: Fixtures/kvm02.xml:\(try Self.lineOfHostCPU("Fixtures/kvm02.xml")): is virsh capabilities output "
                + "while Fixtures/kvm02-domcaps.xml is virsh domcapabilities output: compare the same kind of file from before and after "
                + "the upgrade\n")
    }

    /// The line of the host `<cpu>` of a capabilities file, counted here.
    private static func lineOfHostCPU(_ path: String) throws -> Int {
        let lines = try String(contentsOfFile: CLI.package + "/" + path, encoding: .utf8).components(separatedBy: "\n")
        return (lines.firstIndex { $0.trimmingCharacters(in: .whitespaces) == "<cpu>" } ?? -1) + 1
    }

    @Test func preflightOnTheCorpusQEMU11Pair() throws {
        let folder = CLI.package + "/../shared/corpus/libvirt-domaincaps/"
        let pair = [folder + "qemu_11.0.0-q35.x86_64.xml", folder + "qemu_11.1.0-q35.x86_64.xml"]
        #expect(FileManager.default.fileExists(atPath: pair[0]), "the corpus is missing: put ../shared/corpus beside the checkout")
        let strict = try CLI.run(["preflight", "--cpu-map", "built-in:12.9"] + pair)
        #expect(strict.status == 1, "\(strict.stderr)")
        #expect(strict.stdout.contains("host-model features that appeared: cet-ss "))
        #expect(try CLI.run(["preflight", "--cpu-map", "built-in:12.9", "--allow-new-features"] + pair).status == 0)
    }
}
