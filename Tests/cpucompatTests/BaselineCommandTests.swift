import Foundation
import Testing

@Suite struct BaselineCommandTests {
    @Test func baselineOfTheStoryHostsIsIvyBridgeIBRS() throws {
        let result = try CLI.run(["baseline", "Fixtures/kvm02.xml", "Fixtures/kvm03.xml"])
        #expect(result.status == 0)
        #expect(result.stdout.hasPrefix("""
        <cpu mode='custom' match='exact'>
          <model fallback='allow'>IvyBridge-IBRS</model>
          <vendor>Intel</vendor>
          <feature policy='require' name='ds'/>
        """))
    }

    @Test(.enabled(if: CLI.virshInstalled, "virsh is not installed: the comparison with libvirt is SKIPPED"),
          arguments: [[], ["--features"]])
    func matchesVirshByteForByteOnTheFixtures(flags: [String]) throws {
        let both = BadInputTests.file("both.xml",
            try CLI.hostCPUElement(CLI.fixture("kvm02.xml")) + "\n" + CLI.hostCPUElement(CLI.fixture("kvm03.xml")) + "\n")
        let virsh = try CLI.runProgram("/usr/bin/virsh", ["-c", "test:///default", "cpu-baseline", both] + flags)
        let ours = try CLI.run(["baseline", both] + flags)
        #expect(virsh.status == 0)
        #expect(ours.status == 0)
        #expect(ours.stdout == virsh.stdout)
    }

    @Test func jsonHasTheBaselineObject() throws {
        let result = try CLI.run(["baseline", "--format", "json", "Fixtures/kvm02.xml", "Fixtures/kvm03.xml"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let baseline = try #require(object["baseline"] as? [String: Any])
        #expect(baseline["model"] as? String == "IvyBridge-IBRS")
        #expect((object["cpus"] as? [[String: Any]])?.map { $0["path"] as? String } == ["Fixtures/kvm02.xml", "Fixtures/kvm03.xml"])
    }

    @Test func migratableLeavesOutInvtsc() throws {
        let plain = try CLI.run(["baseline", "Fixtures/kvm02.xml"])
        let migratable = try CLI.run(["baseline", "--migratable", "Fixtures/kvm02.xml"])
        #expect(plain.stdout.contains("name='invtsc'"))
        #expect(!migratable.stdout.contains("name='invtsc'"))
        #expect(migratable.status == 0)
    }
}

@Suite struct MapCommandTests {
    @Test func builtInMapStatesItsOrigin() throws {
        let result = try CLI.run(["map", "--cpu-map", "built-in"])
        #expect(result.status == 0)
        #expect(result.stdout.hasPrefix("CPU map: built-in\nlibvirt version: 9.0.0\n"))
        #expect(result.stdout.contains("Debian 12"))
        #expect(result.stdout.contains("x86: 3 vendors, 212 features, 58 models\n"))
    }

    @Test func environmentVariableChoosesTheMap() throws {
        let result = try CLI.run(["map"], environment: ["CPUCOMPAT_CPU_MAP": "built-in"])
        #expect(result.stdout.hasPrefix("CPU map: built-in\n"))
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/usr/share/libvirt/cpu_map/index.xml"),
                   "libvirt's cpu_map is not installed"))
    func installedMapIsTheDefault() throws {
        let result = try CLI.run(["map"])
        #expect(result.stdout.hasPrefix("CPU map: /usr/share/libvirt/cpu_map\n"))
    }

    @Test func helpExplainsEveryCommand() throws {
        let result = try CLI.run(["--help"])
        #expect(result.status == 0)
        for command in ["diff", "baseline", "map"] { #expect(result.stdout.contains("  \(command) ")) }
        #expect(result.stdout.contains("EXIT STATUS"))
    }
}
