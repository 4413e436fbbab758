import Foundation
import Testing

// End-to-end tests of `cpucompat guests`: the built binary on the fixture
// domains and hosts. kvm02 is a Haswell, kvm03 an Ivy Bridge; the nine
// features are those of the brief's libvirt refusal.

private let hosts = ["--cpu-map", "built-in", "--host", "Fixtures/kvm02.xml", "--host", "Fixtures/kvm03.xml"]
private let storyMissing: Set<String> = ["vmx", "fma", "movbe", "bmi1", "avx2", "bmi2", "invpcid", "pdpe1gb", "abm"]

@Suite struct GuestsCommandTests {
    @Test func aFolderOfDomainsIsPlacedAndTheExitStatusSaysSomeCannotGo() throws {
        let result = try CLI.run(["guests", "Fixtures/domains"] + hosts)
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.isEmpty)
        // Each of the six domains gets its paragraph, in name order.
        let names = try FileManager.default.contentsOfDirectory(atPath: CLI.fixture("domains")).filter { $0.hasSuffix(".xml") }.sorted()
        let headings = result.stdout.split(separator: "\n").filter { !$0.hasPrefix(" ") && $0.hasPrefix("Fixtures/") }
        #expect(headings.map { String($0.split(separator: ":")[0]) } == names.map { "Fixtures/domains/" + $0 })
        #expect(result.stdout.contains("Fixtures/domains/web01-custom-numa.xml: custom Haswell-noTSX-IBRS\n"))
        #expect(result.stdout.contains("\n  started on Fixtures/kvm03.xml: can migrate to every host\n"))
        #expect(result.stdout.contains("2 of 6 guests can start on every one of the 2 hosts and migrate between them\n"))
    }

    @Test func everyGuestThatCanGoEverywhereExitsZero() throws {
        let result = try CLI.run(["guests", "Fixtures/live/web03-on-kvm03.xml", "Fixtures/domains/legacy02-nocpu.xml",
                                  "Fixtures/guest01.xml", "--running-on", "Fixtures/kvm03.xml"] + hosts)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.hasSuffix("3 of 3 guests can start on every one of the 2 hosts and migrate between them\n"))
        #expect(result.stdout.contains("  running on Fixtures/kvm03.xml: can migrate to every host\n"))
    }

    @Test func jsonHasEachGuestsPlacement() throws {
        let result = try CLI.run(["guests", "Fixtures/guest01.xml", "Fixtures/live/guest01-on-kvm02.xml", "--format", "json"] + hosts)
        #expect(result.status == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(object["everyGuestCanGoEverywhere"] as? Bool == false)
        #expect(object["hosts"] as? [String] == ["Fixtures/kvm02.xml", "Fixtures/kvm03.xml"])
        #expect(object["strategy"] as? String == "model")
        let guests = try #require(object["guests"] as? [[String: Any]])
        #expect(guests.count == 2)
        let hostModel = guests[0], live = guests[1]
        #expect(hostModel["mode"] as? String == "host-model")
        let migrations = try #require(hostModel["migrations"] as? [[String: Any]])
        let blocked = try #require((migrations.first?["blocked"] as? [[String: Any]])?.first)
        #expect(Set(blocked["missingFeatures"] as? [String] ?? []) == storyMissing)
        #expect(live["model"] as? String == "Haswell-noTSX-IBRS")
        #expect((live["migrations"] as? [Any])?.isEmpty == true)
        let fix = try #require(live["fix"] as? [String: Any])
        #expect(fix["mode"] as? String == "custom")
    }

    @Test func patchDirWritesCopiesOfTheGuestsThatNeedTheFixOnly() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cpucompat-guests-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let before = try Data(contentsOf: URL(fileURLWithPath: CLI.fixture("guest01.xml")))
        let result = try CLI.run(["guests", "Fixtures/guest01.xml", "Fixtures/live/web03-on-kvm03.xml",
                                  "--strategy", "disable", "--patch-dir", folder] + hosts)
        #expect(result.status == 1)
        #expect(result.stderr.hasSuffix("cpucompat: wrote 1 patched copy into \(folder)\n"), "\(result.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["guest01.xml"])
        #expect(try Data(contentsOf: URL(fileURLWithPath: CLI.fixture("guest01.xml"))) == before)
        // The copy, checked by the same command, can go everywhere.
        let again = try CLI.run(["guests", folder + "/guest01.xml"] + hosts)
        #expect(again.status == 0, "\(again.stdout)\(again.stderr)")
        let copy = try String(contentsOfFile: folder + "/guest01.xml", encoding: .utf8)
        for feature in storyMissing { #expect(copy.contains("<feature policy='disable' name='\(feature)'/>")) }
    }

    @Test(arguments: [
        (["guests", "Fixtures/kvm02.xml"] + hosts, 2,
         "cpucompat: Fixtures/kvm02.xml:1: is not a domain definition: a guest is a domain XML (virsh dumpxml, /etc/libvirt/qemu/NAME.xml)\n"),
        (["guests", "Fixtures/guest01.xml", "--cpu-map", "built-in"], 64, nil),
        (["guests", "Fixtures/guest01.xml", "--running-on", "Fixtures/guest01.xml"] + hosts, 2, nil),
        (["guests", "Fixtures/missing.xml"] + hosts, 2, "cpucompat: Fixtures/missing.xml: no such file or directory\n"),
    ] as [([String], Int32, String?)])
    func badInputIsOneLineAndStatusTwoOrUsage(arguments: [String], status: Int32, stderr: String?) throws {
        let result = try CLI.run(arguments)
        #expect(result.status == status, "\(result.stderr)")
        #expect(result.stdout.isEmpty)
        #expect(stderr == nil || result.stderr == stderr)
        #expect(status != 2 || result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
    }
}
