import Foundation
import Testing

// End-to-end tests of the cluster commands (`models`, `matrix`, `explain`)
// and of the level and cross-vendor parts of `diff` and `baseline`: the built
// binary, run on host files written into scratch folders.

/// A scratch folder for one test, removed by `remove()`.
private struct ScratchFolder {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory
            .appendingPathComponent("cpucompat-cluster-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        let file = path + "/" + name
        try text.write(toFile: file, atomically: false, encoding: .utf8)
        return file
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// A host CPU as a file: capabilities, domcapabilities or a bare `<cpu>`.
private struct HostFile: Hashable {
    enum Kind: Hashable { case capabilities, domainCapabilities, bare }

    var model: String
    var vendor: String
    var features: [String]
    var kind: Kind = .capabilities

    /// What decides the host's feature set.
    var variant: String { ([model, vendor] + features).joined(separator: " ") }

    var xml: String {
        switch kind {
        case .capabilities:
            return "<capabilities>\n  <host>\n    <cpu>\n      <arch>x86_64</arch>\n      <model>\(model)</model>\n      <vendor>\(vendor)</vendor>\n"
                + features.map { "      <feature name='\($0)'/>\n" }.joined()
                + "    </cpu>\n  </host>\n</capabilities>\n"
        case .domainCapabilities:
            return "<domainCapabilities>\n  <arch>x86_64</arch>\n  <cpu>\n    <mode name='host-model' supported='yes'>\n"
                + "      <model fallback='forbid'>\(model)</model>\n      <vendor>\(vendor)</vendor>\n"
                + features.map { "      <feature policy='require' name='\($0)'/>\n" }.joined()
                + "    </mode>\n    <mode name='custom' supported='yes'>\n"
                + "      <model usable='yes' vendor='\(vendor)'>\(model)</model>\n"
                + "    </mode>\n  </cpu>\n</domainCapabilities>\n"
        case .bare:
            return "<cpu><arch>x86_64</arch><model>\(model)</model><vendor>\(vendor)</vendor>"
                + features.map { "<feature name='\($0)'/>" }.joined() + "</cpu>\n"
        }
    }
}

/// SplitMix64, so the generated folders are the same on every run.
private struct SeededRandom {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
}

private func clusterJSON(_ result: RunResult) throws -> Any {
    try JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
}

private func clusterObject(_ result: RunResult) throws -> [String: Any] {
    try #require(try clusterJSON(result) as? [String: Any], "not a JSON object: \(result.stdout.prefix(200)) \(result.stderr)")
}

private let clusterIntelModels = ["Westmere", "SandyBridge", "IvyBridge", "Haswell-noTSX", "Broadwell-noTSX",
                           "Skylake-Server", "Cascadelake-Server", "Icelake-Server"]

/// Five distinct Intel hosts, each written twice (once as capabilities, once
/// as domcapabilities), interleaved: ten files, five groups.
private func writeSmallClusterFleet(_ folder: ScratchFolder) throws -> [HostFile] {
    let distinct = [
        HostFile(model: "Westmere", vendor: "Intel", features: ["vmx"]),
        HostFile(model: "SandyBridge", vendor: "Intel", features: ["vmx", "invtsc"]),
        HostFile(model: "IvyBridge", vendor: "Intel", features: ["ds", "acpi", "monitor"]),
        HostFile(model: "Haswell-noTSX", vendor: "Intel", features: ["vmx", "abm"]),
        HostFile(model: "Skylake-Server", vendor: "Intel", features: ["vmx", "invtsc"]),
    ]
    var hosts: [HostFile] = []
    for round in 0..<2 {
        for var host in distinct {
            host.kind = round == 0 ? .capabilities : .domainCapabilities
            hosts.append(host)
        }
    }
    for (index, host) in hosts.enumerated() { try folder.write(String(format: "host-%02d.xml", index), host.xml) }
    return hosts
}

private let clusterMasterMap = CLI.package + "/../shared/corpus/cpu_map-libvirt-master"
private let clusterMasterMapPresent = FileManager.default.fileExists(atPath: clusterMasterMap + "/index.xml")

// MARK: - models

@Suite struct ClusterModelsCommandTests {
    @Test func jsonOnAFolderHasTheDocumentedKeys() throws {
        let folder = try ScratchFolder()
        defer { folder.remove() }
        let hosts = try writeSmallClusterFleet(folder)
        let result = try CLI.run(["models", "--format", "json", folder.path])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try clusterObject(result)
        #expect(Set(report.keys) == ["hosts", "models", "usableEverywhere", "best"])
        let summaries = try #require(report["hosts"] as? [[String: Any]])
        #expect(summaries.count == hosts.count)
        #expect(summaries.map { $0["path"] as? String } == hosts.indices.map { String(format: "\(folder.path)/host-%02d.xml", $0) })
        #expect(summaries.map { $0["model"] as? String } == hosts.map(\.model))
        let models = try #require(report["models"] as? [[String: Any]])
        #expect(!models.isEmpty)
        for model in models {
            #expect(model["name"] is String)
            #expect(model["runnableOn"] is Int)
            #expect(model["blocked"] is [[String: Any]])
            #expect(model["declared"] is [[String: Any]])
        }
        // Every Intel host here has Westmere's features, and the oldest host is a Westmere.
        #expect(report["best"] as? String == "Westmere")
        #expect((report["usableEverywhere"] as? [String])?.contains("Westmere") == true)
        #expect(!((report["usableEverywhere"] as? [String])?.contains("SandyBridge") ?? true))
        // The domcapabilities files list their own model as usable, which is true.
        let declared = models.flatMap { $0["declared"] as? [[String: Any]] ?? [] }
        #expect(declared.count == 5)
        #expect(declared.allSatisfy { $0["disagreement"] == nil && $0["usable"] as? String == "yes" })
    }

    @Test func minHostsAddsThePartialChoice() throws {
        let folder = try ScratchFolder()
        defer { folder.remove() }
        let hosts = try writeSmallClusterFleet(folder)
        // Four of the ten hosts (two Haswell-noTSX, two Skylake-Server) run Haswell-noTSX.
        let result = try CLI.run(["models", "--format", "json", "--min-hosts", "4", folder.path])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try clusterObject(result)
        #expect(Set(report.keys) == ["hosts", "models", "usableEverywhere", "best", "partial"])
        let partial = try #require(report["partial"] as? [String: Any])
        #expect(partial["minHosts"] as? Int == 4)
        let model = try #require(partial["model"] as? String)
        let row = try #require((report["models"] as? [[String: Any]])?.first { $0["name"] as? String == model })
        #expect(try #require(row["runnableOn"] as? Int) >= 4)
        // The hosts left out are exactly those the model's row lists as blocked.
        let blocked = (row["blocked"] as? [[String: Any]] ?? []).flatMap { $0["hosts"] as? [String] ?? [] }
        let leftOut = try #require(partial["hostsLeftOut"] as? [String])
        #expect(Set(leftOut) == Set(blocked))
        #expect(leftOut == leftOut.sorted())
        #expect(leftOut.count == hosts.count - (row["runnableOn"] as? Int ?? 0))

        let text = try CLI.run(["models", "--min-hosts", "4", folder.path])
        #expect(text.stdout.contains("best on at least 4 hosts: \(model); left out: "))
    }

    @Test func declarationsThatDisagreeAndDeprecatedModelsAreShown() throws {
        let folder = try ScratchFolder()
        defer { folder.remove() }
        let file = try folder.write("kvm09-domcaps.xml", """
        <domainCapabilities>
          <arch>x86_64</arch>
          <cpu>
            <mode name='host-model' supported='yes'>
              <model fallback='forbid'>Haswell-noTSX-IBRS</model>
              <vendor>Intel</vendor>
              <feature policy='require' name='vmx'/>
            </mode>
            <mode name='custom' supported='yes'>
              <model usable='no' vendor='Intel'>Haswell-noTSX-IBRS</model>
              <model usable='yes' vendor='Intel'>Broadwell-noTSX-IBRS</model>
              <model usable='yes' vendor='Intel' deprecated='yes'>Westmere</model>
            </mode>
          </cpu>
        </domainCapabilities>
        """)
        let result = try CLI.run(["models", file])
        #expect(result.status == 0)
        #expect(result.stdout.contains("\(file) (usable='no'): the file says not usable, but the host has every feature of the model\n"))
        // x86_Broadwell-noTSX-IBRS.xml is x86_Haswell-noTSX-IBRS.xml plus 3dnowprefetch, adx, rdseed and smap.
        #expect(result.stdout.contains("\(file) (usable='yes'): the file says usable, but the host lacks rdseed,adx,smap,3dnowprefetch\n"))
        #expect(result.stdout.contains("\(file) (usable='yes'): deprecated\n"))

        let report = try clusterObject(try CLI.run(["models", "--format", "json", file]))
        let westmere = try #require((report["models"] as? [[String: Any]])?.first { $0["name"] as? String == "Westmere" })
        let declared = try #require((westmere["declared"] as? [[String: Any]])?.first)
        #expect(declared["deprecated"] as? Bool == true)
        #expect(declared["host"] as? String == file)
    }

    @Test(.enabled(if: clusterMasterMapPresent, "../shared/corpus/cpu_map-libvirt-master is absent: the versioned-model test is SKIPPED"))
    func versionedModelsShowTheirCanonicalModel() throws {
        let result = try CLI.run(["models", "--cpu-map", clusterMasterMap, "--format", "json", "Fixtures/kvm02.xml"])
        #expect(result.status == 0, "\(result.stderr)")
        let models = try #require(try clusterObject(result)["models"] as? [[String: Any]])
        let haswell = try #require(models.first { $0["name"] as? String == "Haswell-v4" })
        #expect(haswell["canonical"] as? String == "Haswell-noTSX-IBRS")
        #expect(models.first { $0["name"] as? String == "Haswell-noTSX-IBRS" }?["canonical"] == nil)
        let text = try CLI.run(["models", "--cpu-map", clusterMasterMap, "Fixtures/kvm02.xml"])
        #expect(text.stdout.contains("  Haswell-v4 (Haswell-noTSX-IBRS) "))
    }

    @Test(arguments: [["models", "--format", "xml", "Fixtures/kvm02.xml"],
                      ["models", "--min-hosts", "0", "Fixtures/kvm02.xml"],
                      ["matrix", "--format", "xml", "Fixtures/kvm02.xml"],
                      ["explain", "--format", "xml", "avx2"],
                      ["matrix"]])
    func badUsageExits64(arguments: [String]) throws {
        let result = try CLI.run(arguments)
        #expect(result.status == 64, "\(arguments): \(result.stderr)")
    }
}

// MARK: - matrix

@Suite struct ClusterMatrixCommandTests {
    /// `count` host files of Skylake-Client, each lacking a different pair of twelve features: 66 distinct CPUs.
    private func writeManyGroups(_ folder: ScratchFolder) throws -> Int {
        let pool = ["avx2", "bmi1", "bmi2", "fma", "movbe", "rdrand", "rdseed", "adx", "smap", "smep", "xsavec", "3dnowprefetch"]
        var count = 0
        for i in pool.indices {
            for j in pool.indices where j > i {
                let disables = [pool[i], pool[j]].map { "<feature policy='disable' name='\($0)'/>" }.joined()
                try folder.write("host\(count).xml", "<cpu><arch>x86_64</arch><model>Skylake-Client</model><vendor>Intel</vendor>\(disables)</cpu>\n")
                count += 1
            }
        }
        return count
    }

    @Test func manyGroupsGiveASummaryAndPairsOnlyWhenAskedFor() throws {
        let folder = try ScratchFolder()
        defer { folder.remove() }
        let groups = try writeManyGroups(folder)
        let text = try CLI.run(["matrix", folder.path])
        #expect(text.status == 0, "\(text.stderr)")
        // Every pair of such CPUs is blocked both ways: each lacks two features the other has.
        let pairs = groups * (groups - 1)
        #expect(text.stdout.contains("host-model guests cannot migrate across "))
        #expect(!text.stdout.contains("missing features:"))
        #expect(text.stdout.split(separator: "\n").allSatisfy { $0.count <= 100 })

        let listed = try CLI.run(["matrix", "--pairs", folder.path])
        #expect(listed.status == 0, "\(listed.stderr)")
        #expect(listed.stdout.hasPrefix(text.stdout), "--pairs adds to the summary")
        let arrows = listed.stdout.split(separator: "\n").filter { $0.hasPrefix("  G") && $0.contains(" → G") }
        #expect(arrows.count == pairs, "one entry per pair, and every pair is blocked")
        #expect(Set(arrows.map { $0.prefix { $0 != ":" } }).count == arrows.count)

        let json = try clusterObject(try CLI.run(["matrix", "--format", "json", folder.path]))
        #expect(json["pairs"] == nil, "no pairs beyond 16 groups unless asked for")
        let summary = try #require(json["summary"] as? [String: Any])
        #expect(summary["pairs"] as? Int == pairs)
        let withPairs = try clusterObject(try CLI.run(["matrix", "--format", "json", "--pairs", folder.path]))
        #expect((withPairs["pairs"] as? [Any])?.count == pairs)
        #expect(summary["blockedPairs"] as? Int == pairs)
    }

    @Test func jsonOnAFolderHasGroupsAndPairs() throws {
        let folder = try ScratchFolder()
        defer { folder.remove() }
        let hosts = try writeSmallClusterFleet(folder)
        let result = try CLI.run(["matrix", "--format", "json", folder.path])
        #expect(result.status == 0, "\(result.stderr)")
        let matrix = try clusterObject(result)
        #expect(Set(matrix.keys) == ["groups", "pairs", "summary", "baseline", "everyHostCanTakeEveryOthersGuests"])
        let groups = try #require(matrix["groups"] as? [[String: Any]])
        let pairs = try #require(matrix["pairs"] as? [[String: Any]])
        #expect(groups.count == Set(hosts.map(\.variant)).count)
        #expect(pairs.count == groups.count * (groups.count - 1))
        for group in groups {
            for key in ["name", "hosts", "model", "vendor", "level", "featureCount", "lostUnderBaseline"] {
                #expect(group[key] != nil, "group lacks \(key)")
            }
        }
        // Group G(k) holds the two files of the k-th distinct host, in name order.
        for (index, group) in groups.enumerated() {
            #expect(group["name"] as? String == "G\(index + 1)")
            #expect(group["hosts"] as? [String] == [String(format: "\(folder.path)/host-%02d.xml", index),
                                                     String(format: "\(folder.path)/host-%02d.xml", index + 5)])
            #expect(group["model"] as? String == hosts[index].model)
        }
        for pair in pairs {
            #expect(pair["from"] is String && pair["to"] is String && pair["canMigrate"] is Bool && pair["missing"] is [String])
            #expect((pair["canMigrate"] as? Bool) == (pair["missing"] as? [String])?.isEmpty)
        }
        // Westmere+vmx (G1) fits into Skylake-Server+vmx+invtsc (G5), not the reverse.
        let g1g5 = try #require(pairs.first { $0["from"] as? String == "G1" && $0["to"] as? String == "G5" })
        #expect(g1g5["canMigrate"] as? Bool == true)
        let g5g1 = try #require(pairs.first { $0["from"] as? String == "G5" && $0["to"] as? String == "G1" })
        #expect(g5g1["canMigrate"] as? Bool == false)
        #expect((g5g1["missing"] as? [String])?.contains("invtsc") == true)
        let baseline = try #require(matrix["baseline"] as? [String: Any])
        #expect(baseline["model"] as? String == "Westmere")
        #expect(baseline["vendor"] as? String == "Intel")
    }

    @Test func textShowsTheTable() throws {
        let folder = try ScratchFolder()
        defer { folder.remove() }
        _ = try writeSmallClusterFleet(folder)
        let result = try CLI.run(["matrix", folder.path])
        #expect(result.status == 0)
        #expect(result.stdout.hasPrefix("groups of hosts with identical CPU features:\n  G1: Westmere, Intel, x86-64-v2, "))
        #expect(result.stdout.contains("cluster baseline: Westmere, vendor Intel, fallback allow, level x86-64-v2\n"))
        // Westmere+vmx fits everywhere but on the IvyBridge host, which lacks vmx.
        #expect(result.stdout.contains("\n      G1   G2   G3   G4   G5\n  G1   =    ok   1    ok   ok\n"))
        #expect(result.stdout.contains("\n  G1 → G3: vmx\n"))
        #expect(result.stdout.contains("  G1 loses: vmx\n"))
    }

    @Test func mixedVendorsHaveNoBaseline() throws {
        let folder = try ScratchFolder()
        defer { folder.remove() }
        try folder.write("a.xml", HostFile(model: "Haswell-noTSX", vendor: "Intel", features: ["vmx"]).xml)
        try folder.write("b.xml", HostFile(model: "EPYC", vendor: "AMD", features: ["svm"]).xml)
        let result = try CLI.run(["matrix", "--format", "json", folder.path])
        #expect(result.status == 0, "\(result.stderr)")
        let matrix = try clusterObject(result)
        #expect(Set(matrix.keys) == ["groups", "pairs", "summary", "baselineError", "everyHostCanTakeEveryOthersGuests"])
        #expect((matrix["baselineError"] as? String)?.hasPrefix("CPU vendors do not match") == true)
        #expect((matrix["groups"] as? [[String: Any]])?.map { $0["vendor"] as? String } == ["Intel", "AMD"])
    }

    /// 1,000 small files, each one of 16 distinct CPUs chosen by a seeded PRNG:
    /// as many groups as distinct CPUs used, each with exactly its files.
    @Test func aThousandHostsFormTheirGroups() throws {
        let folder = try ScratchFolder()
        defer { folder.remove() }
        var random = SeededRandom(state: 0x1000_C0DE_F1EE_7000)
        var variants: [HostFile] = []
        for model in clusterIntelModels {
            variants.append(HostFile(model: model, vendor: "Intel", features: ["vmx"], kind: .bare))
            variants.append(HostFile(model: model, vendor: "Intel", features: ["vmx", "invtsc"], kind: .bare))
        }
        var expected: [String: [String]] = [:]   // variant → files
        var order: [String] = []                  // variants by first appearance
        for index in 0..<1000 {
            let host = variants[random.below(variants.count)]
            let path = try folder.write(String(format: "h%04d.xml", index), host.xml)
            if expected[host.variant] == nil { order.append(host.variant) }
            expected[host.variant, default: []].append(path)
        }
        let result = try CLI.run(["matrix", "--format", "json", folder.path])
        #expect(result.status == 0, "\(result.stderr)")
        let matrix = try clusterObject(result)
        let groups = try #require(matrix["groups"] as? [[String: Any]])
        #expect(groups.count == order.count)
        #expect(groups.map { $0["hosts"] as? [String] ?? [] } == order.map { expected[$0] ?? [] })
        #expect(groups.reduce(0) { $0 + (($1["hosts"] as? [String])?.count ?? 0) } == 1000)
        #expect((matrix["pairs"] as? [Any])?.count == order.count * (order.count - 1))
        let baseline = try #require(matrix["baseline"] as? [String: Any])
        #expect(baseline["model"] as? String == "Westmere")
    }
}

// MARK: - explain

@Suite struct ClusterExplainCommandTests {
    // Bit positions are those of /usr/share/libvirt/cpu_map/x86_features.xml.
    @Test(arguments: [
        ("avx2", "  CPUID leaf 0x7 subleaf 0x0 EBX bit 5\n"),
        ("rdctl-no", "  MSR 0x10a EAX bit 0\n"),
        ("sse4_1", "feature sse4.1\n  CPUID leaf 0x1 ECX bit 19\n  aliases: sse4-1, sse4_1\n"),
        ("invtsc", "  CPUID leaf 0x80000007 EDX bit 8\n  aliases: none\n  migratable: no\n"),
        ("Haswell-noTSX-IBRS", "model Haswell-noTSX-IBRS\n  vendor: Intel\n"),
        ("Haswell-noTSX-IBRS", "  signatures: family 6 model 60; family 6 model 63; family 6 model 69; family 6 model 70\n"),
        ("Haswell-noTSX-IBRS", "  adds over Haswell-noTSX: spec-ctrl\n"),
    ])
    func explainsFeaturesAndModels(name: String, expected: String) throws {
        let result = try CLI.run(["explain", name])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains(expected), "\(result.stdout)")
    }

    @Test func unknownNamesAreBadInput() throws {
        let result = try CLI.run(["explain", "avx2", "no-such-feature"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("no CPU model or feature no-such-feature in the CPU map"))
        #expect(result.stderr.hasPrefix("cpucompat: "))
    }

    @Test func versionedModelsAreModelsAndMisspellingsGetTheNearestNames() throws {
        let versioned = try CLI.run(["explain", "--cpu-map", "built-in", "Haswell-v4"])
        #expect(versioned.status == 0, "\(versioned.stderr)")
        #expect(versioned.stdout.hasPrefix("model Haswell-v4\n  vendor: Intel\n  parent: Haswell-noTSX-IBRS\n"))
        let misspelt = try CLI.run(["explain", "--cpu-map", "built-in", "Haswel-v4"])
        #expect(misspelt.status == 2)
        #expect(misspelt.stderr == "cpucompat: no CPU model or feature Haswel-v4 in the CPU map (did you mean Haswell-v4, Haswell-v1, Haswell-v2?)\n")
        let newer = try CLI.run(["explain", "--cpu-map", "built-in:9.0", "Haswell-v4"])
        #expect(newer.status == 2)
        #expect(newer.stderr.hasPrefix("cpucompat: no CPU model or feature Haswell-v4 in the CPU map: libvirt 9.0.0's CPU map lacks it; "
                                       + "libvirt 11.3 and 12.9 define it (use --cpu-map built-in:12.9)"))
    }

    @Test func jsonIsOneObjectPerName() throws {
        let result = try CLI.run(["explain", "--format", "json", "avx2", "sse4_1", "Haswell-noTSX-IBRS"])
        #expect(result.status == 0, "\(result.stderr)")
        let items = try #require(try clusterJSON(result) as? [[String: Any]])
        #expect(items.count == 3)
        #expect(Set(items[0].keys) == ["kind", "name", "aliases", "migratable", "location", "oldestModel", "models"])
        #expect(items[0]["location"] as? [String] == ["CPUID leaf 0x7 subleaf 0x0 EBX bit 5"])
        #expect(items[1]["name"] as? String == "sse4.1")
        #expect(items[1]["aliases"] as? [String] == ["sse4-1", "sse4_1"])
        #expect(items[2]["kind"] as? String == "model")
        for key in ["name", "vendor", "signatures", "features", "level", "previousModel", "addedFeatures", "removedFeatures"] {
            #expect(items[2][key] != nil, "model explanation lacks \(key)")
        }
        #expect(items[2]["vendor"] as? String == "Intel")
        #expect(items[2]["addedFeatures"] as? [String] == ["spec-ctrl"])
    }
}

// MARK: - Levels and cross-vendor baselines

@Suite struct ClusterLevelCommandTests {
    @Test func diffJSONGivesLevels() throws {
        let result = try CLI.run(["diff", "--format", "json", "Fixtures/kvm02.xml", "Fixtures/kvm03.xml"])
        #expect(result.status == 1)
        let diff = try clusterObject(result)
        #expect((diff["source"] as? [String: Any])?["level"] as? String == "x86-64-v3")
        #expect((diff["destination"] as? [String: Any])?["level"] as? String == "x86-64-v2")
        #expect((diff["baseline"] as? [String: Any])?["level"] as? String == "x86-64-v2")
    }

    @Test func baselineJSONGivesLevels() throws {
        let result = try CLI.run(["baseline", "--format", "json", "Fixtures/kvm02.xml", "Fixtures/kvm03.xml"])
        #expect(result.status == 0)
        let report = try clusterObject(result)
        #expect((report["baseline"] as? [String: Any])?["level"] as? String == "x86-64-v2")
        #expect((report["cpus"] as? [[String: Any]])?.map { $0["level"] as? String } == ["x86-64-v3", "x86-64-v2"])
    }

    @Test func aCPUWithoutLongModeHasNoLevel() throws {
        let folder = try ScratchFolder()
        defer { folder.remove() }
        // The psABI's v1 and v2 lists without lm.
        let features = ["cmov", "cx8", "fpu", "fxsr", "mmx", "syscall", "sse", "sse2",
                        "cx16", "lahf_lm", "popcnt", "pni", "sse4.1", "sse4.2", "ssse3"]
        let noLM = try folder.write("nolm.xml", "<cpu>" + features.map { "<feature name='\($0)'/>" }.joined() + "</cpu>\n")
        let withLM = try folder.write("v2.xml", "<cpu>" + (features + ["lm"]).map { "<feature name='\($0)'/>" }.joined() + "</cpu>\n")
        let result = try CLI.run(["diff", "--format", "json", noLM, withLM])
        #expect(result.status == 1, "\(result.stderr)")
        let diff = try clusterObject(result)
        let source = try #require(diff["source"] as? [String: Any])
        #expect(source["level"] == nil)
        #expect((diff["destination"] as? [String: Any])?["level"] as? String == "x86-64-v2")
        #expect(diff["missingOnSource"] as? [String] == ["lm"])
        let text = try CLI.run(["diff", noLM, withLM])
        #expect(text.stdout.contains("source:      \(noLM) (no model, no vendor, no x86-64 level)\n"))
    }

    /// Only reachable with a map that marks a psABI feature migratable='no':
    /// on the real maps a baseline keeps every feature all hosts share.
    @Test func levelWarningGoesToStandardError() throws {
        let folder = try ScratchFolder()
        defer { folder.remove() }
        let names = ["cmov", "cx8", "fpu", "fxsr", "mmx", "syscall", "sse", "sse2", "lm",
                     "cx16", "lahf_lm", "popcnt", "pni", "sse4.1", "sse4.2", "ssse3",
                     "avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave"]
        let features = names.enumerated().map { index, name in
            "<feature name='\(name)'\(name == "avx" ? " migratable='no'" : "")><cpuid eax_in='0x01' edx='0x\(String(UInt32(1) << UInt32(index), radix: 16))'/></feature>"
        }.joined(separator: "\n")
        let map = try folder.write("cpu_map.xml", """
        <cpus>
          <arch name='x86'>
            <vendor name='Intel' string='GenuineIntel'/>
        \(features)
            <model name='base'><feature name='fpu'/></model>
          </arch>
        </cpus>
        """)
        let host = "<cpu><model>base</model>" + names.map { "<feature name='\($0)'/>" }.joined() + "</cpu>\n"
        let a = try folder.write("a.xml", host), b = try folder.write("b.xml", host)
        let plain = try CLI.run(["baseline", "--cpu-map", map, a, b])
        #expect(plain.status == 0, "\(plain.stderr)")
        #expect(plain.stderr.isEmpty)
        let migratable = try CLI.run(["baseline", "--cpu-map", map, "--migratable", a, b])
        #expect(migratable.status == 0, "\(migratable.stderr)")
        #expect(migratable.stderr.contains("cpucompat: warning: the baseline is x86-64-v2, while 2 hosts are at a higher level (up to x86-64-v3)"))
        #expect(!migratable.stdout.contains("name='avx'"))
    }

    @Test func crossVendorBaselineNeedsTheFlag() throws {
        let folder = try ScratchFolder()
        defer { folder.remove() }
        let amd = try folder.write("amd.xml", HostFile(model: "EPYC", vendor: "AMD", features: ["svm", "monitor"]).xml)

        let refused = try CLI.run(["baseline", "Fixtures/kvm02.xml", amd])
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("CPU vendors do not match"))
        #expect(refused.stdout.isEmpty)

        let allowed = try CLI.run(["baseline", "--allow-cross-vendor", "Fixtures/kvm02.xml", amd])
        #expect(allowed.status == 0, "\(allowed.stderr)")
        #expect(allowed.stdout.hasPrefix("<cpu mode='custom' match='exact'>\n  <model fallback='allow'>"))
        #expect(!allowed.stdout.contains("<vendor>"))
        let warnings = allowed.stderr.split(separator: "\n").filter { $0.hasPrefix("cpucompat: warning: ") }
        #expect(warnings.count == 1)
        #expect(warnings.first?.contains("different CPU vendors (Intel, AMD)") == true)

        // The chosen model is vendor-neutral: explain gives it no vendor.
        let modelLine = try #require(allowed.stdout.split(separator: "\n").dropFirst().first)
        let model = modelLine.drop { $0 != ">" }.dropFirst().prefix { $0 != "<" }
        let explained = try #require(try clusterJSON(try CLI.run(["explain", "--format", "json", String(model)])) as? [[String: Any]])
        #expect(explained.first?["kind"] as? String == "model")
        #expect(explained.first?["vendor"] == nil, "\(model) has a vendor")

        let report = try clusterObject(try CLI.run(["baseline", "--allow-cross-vendor", "--format", "json", "Fixtures/kvm02.xml", amd]))
        let baseline = try #require(report["baseline"] as? [String: Any])
        #expect(baseline["vendor"] == nil)
        #expect(baseline["model"] as? String == String(model))
        #expect((baseline["warnings"] as? [String])?.count == 1)
    }
}
