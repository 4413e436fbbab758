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
    @Test func builtInMapIsTheNewestAndStatesItsOrigin() throws {
        let result = try CLI.run(["map", "--cpu-map", "built-in"])
        #expect(result.status == 0)
        #expect(result.stdout.hasPrefix("CPU map: built-in:12.9\nlibvirt version: 12.9.0\n"))
        #expect(result.stdout.contains("origin: cpu_map of Debian's libvirt0 package, version 12.9.0-1~bpo13+1\n"))
        #expect(result.stdout.contains("x86: 4 vendors, 400 features, 176 models\n"))
    }

    @Test func eachReleasesBuiltInMapCanBeChosen() throws {
        let old = try CLI.run(["map", "--cpu-map", "built-in:9.0"])
        #expect(old.status == 0)
        #expect(old.stdout.hasPrefix("CPU map: built-in:9.0\nlibvirt version: 9.0.0\n"))
        #expect(old.stdout.contains("x86: 3 vendors, 212 features, 58 models\n"))
        let middle = try CLI.run(["map", "--cpu-map", "built-in:11.3"])
        #expect(middle.stdout.contains("x86: 3 vendors, 364 features, 150 models\n"))
        let unknown = try CLI.run(["map", "--cpu-map", "built-in:8.0"])
        #expect(unknown.status == 2)
        #expect(unknown.stderr == "cpucompat: built-in:8.0: no built-in CPU map of that release (there are built-in:9.0, built-in:11.3, built-in:12.9)\n")
    }

    @Test func listShowsTheBuiltInMapsAndWhichIsInUse() throws {
        let result = try CLI.run(["map", "--list", "--cpu-map", "built-in:11.3"])
        #expect(result.status == 0)
        #expect(result.stdout == """
              built-in:9.0  libvirt 9.0.0  cpu_map of Debian's libvirt0 package, version 9.0.0-4+deb12u2
            * built-in:11.3  libvirt 11.3.0  cpu_map of Debian's libvirt0 package, version 11.3.0-2~bpo12+1
              built-in:12.9  libvirt 12.9.0  cpu_map of Debian's libvirt0 package, version 12.9.0-1~bpo13+1 (built-in)

            """)
    }

    @Test func environmentVariableChoosesTheMap() throws {
        let result = try CLI.run(["map"], environment: ["CPUCOMPAT_CPU_MAP": "built-in:9.0"])
        #expect(result.stdout.hasPrefix("CPU map: built-in:9.0\n"))
    }

    @Test func aNameFromANewerReleaseSaysWhichMapHasIt() throws {
        let folder = NSTemporaryDirectory() + "cpucompat-release-\(getpid())"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let host = folder + "/modern.xml"
        try "<cpu>\n  <arch>x86_64</arch>\n  <model>Haswell-v2</model>\n  <vendor>Intel</vendor>\n</cpu>\n"
            .write(toFile: host, atomically: true, encoding: .utf8)
        let old = try CLI.run(["baseline", "--cpu-map", "built-in:9.0", host])
        #expect(old.status == 2)
        #expect(old.stderr == "cpucompat: \(host):1: Unknown CPU model Haswell-v2: libvirt 9.0.0's CPU map lacks it; "
                + "libvirt 11.3 and 12.9 define it (use --cpu-map built-in:12.9)\n")
        let feature = folder + "/feature.xml"
        try "<cpu>\n  <arch>x86_64</arch>\n  <model>Haswell</model>\n  <feature name='flush-l1d'/>\n</cpu>\n"
            .write(toFile: feature, atomically: true, encoding: .utf8)
        let unknownFeature = try CLI.run(["baseline", "--cpu-map", "built-in:9.0", feature])
        #expect(unknownFeature.stderr == "cpucompat: \(feature):4: Unknown CPU feature flush-l1d: libvirt 9.0.0's CPU map lacks it; "
                + "libvirt 11.3 and 12.9 define it (use --cpu-map built-in:12.9)\n")
        let new = try CLI.run(["baseline", "--cpu-map", "built-in:12.9", host])
        #expect(new.status == 0)
        #expect(new.stdout.contains("<model fallback='forbid'>Haswell-v2</model>") == false,
                "Haswell-v2 decodes no guest: the baseline names its canonical model")
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
