import Foundation
import Testing
@testable import CPUCompat

// Tests of the cluster views: `modelUsability` (cpucompat models),
// `migrationMatrix` (cpucompat matrix), x86-64 levels, cross-vendor
// baselines and `explain`.
//
// Most of them run on a generated fleet: 64 host CPUs of several Intel and
// AMD generations, built from the CPU map in use with a seeded PRNG, written
// as `virsh capabilities` or `virsh domcapabilities` files into a scratch
// folder and read back with `readHosts([folder])`. Every expectation is
// computed here from the generator's own feature sets and the map's model
// definitions, not from the code under test.

// MARK: - The generated fleet

/// SplitMix64, the same on every platform (the standard library's random
/// helpers are not guaranteed stable across Swift versions).
struct FleetRandom {
    private var generator: SplitMix64

    init(seed: UInt64) { generator = SplitMix64(seed: seed) }

    mutating func next() -> UInt64 { generator.next() }

    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }

    mutating func chance(_ probability: Double) -> Bool {
        Double(next() >> 11) / Double(UInt64(1) << 53) < probability
    }

    mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }
}

/// One generated host: what the file says and the features it must resolve to.
struct FleetHost {
    enum Format { case capabilities, domainCapabilities }

    /// The file name inside the fleet folder (`host-007.xml`).
    var file: String
    var model: String
    var vendor: String
    /// Features beyond the model, in map order.
    var extras: [String]
    /// model ∪ extras.
    var features: FeatureSet
    var format: Format
    /// For domcapabilities: the custom-mode model list (name, usable, deprecated).
    var declared: [(name: String, usable: String, deprecated: Bool)] = []
    /// Models whose `usable` the file deliberately gets wrong.
    var misdeclared: Set<String> = []

    /// The file's text.
    var xml: String {
        let featureLines: [String]
        switch format {
        case .capabilities:
            featureLines = extras.map { "      <feature name='\($0)'/>" }
            return """
            <capabilities>
              <host>
                <uuid>00000000-0000-0000-0000-\(file.filter(\.isNumber).padded(to: 12))</uuid>
                <cpu>
                  <arch>x86_64</arch>
                  <model>\(model)</model>
                  <vendor>\(vendor)</vendor>
            \(featureLines.joined(separator: "\n"))
                </cpu>
              </host>
            </capabilities>

            """
        case .domainCapabilities:
            featureLines = extras.map { "      <feature policy='require' name='\($0)'/>" }
            let declaredLines = declared.map { model in
                "      <model usable='\(model.usable)' vendor='\(vendor)'\(model.deprecated ? " deprecated='yes'" : "")>\(model.name)</model>"
            }
            return """
            <domainCapabilities>
              <path>/usr/bin/qemu-system-x86_64</path>
              <domain>kvm</domain>
              <arch>x86_64</arch>
              <cpu>
                <mode name='host-passthrough' supported='yes'/>
                <mode name='host-model' supported='yes'>
                  <model fallback='forbid'>\(model)</model>
                  <vendor>\(vendor)</vendor>
            \(featureLines.joined(separator: "\n"))
                </mode>
                <mode name='custom' supported='yes'>
            \(declaredLines.joined(separator: "\n"))
                </mode>
              </cpu>
            </domainCapabilities>

            """
        }
    }

    /// The same CPU as a host `<cpu>` element, what `virsh cpu-baseline` reads.
    var hostCPUElement: String {
        (["<cpu>", "  <arch>x86_64</arch>", "  <model>\(model)</model>", "  <vendor>\(vendor)</vendor>"]
            + extras.map { "  <feature name='\($0)'/>" } + ["</cpu>"]).joined(separator: "\n") + "\n"
    }
}

extension String {
    fileprivate func padded(to width: Int) -> String {
        String(repeating: "0", count: max(0, width - count)) + self
    }
}

enum Fleet {
    static let seed: UInt64 = 0xC1A5_7E12_F1EE_7001
    static let intelLine = ["Westmere", "SandyBridge", "IvyBridge", "Haswell-noTSX", "Broadwell-noTSX",
                            "Skylake-Server", "Cascadelake-Server", "Icelake-Server"]
    static let amdLine = ["Opteron_G4", "Opteron_G5", "EPYC", "EPYC-Rome", "EPYC-Milan"]
    /// Features real hosts report that no named model has.
    static let intelHostOnly = ["ds", "acpi", "ss", "ht", "tm", "pbe", "dtes64", "monitor", "ds_cpl", "vmx", "smx",
                                "est", "tm2", "xtpr", "pdcm", "osxsave", "arat", "invtsc"]
    static let amdHostOnly = ["monitor", "ht", "svm", "osvw", "skinit", "wdt", "topoext", "perfctr_core",
                              "osxsave", "invtsc", "cmp_legacy"]
    /// Models the domcapabilities files mark deprecated='yes'.
    static let deprecated: Set<String> = ["Westmere", "Opteron_G4"]

    /// `count` hosts; about one in five copies an earlier host of its vendor,
    /// so some groups have several members.
    static func generate(_ x86: CPUArchitecture, count: Int = 64, seed: UInt64 = seed) throws -> [FleetHost] {
        var random = FleetRandom(seed: seed)
        var hosts: [FleetHost] = []
        for number in 0..<count {
            let intel = random.chance(0.6)
            let line = intel ? intelLine : amdLine
            let vendor = intel ? "Intel" : "AMD"
            let format: FleetHost.Format = random.chance(0.4) ? .domainCapabilities : .capabilities
            let file = "host-\(String(number).padded(to: 3)).xml"
            var host: FleetHost
            let earlier = hosts.filter { $0.vendor == vendor }
            if !earlier.isEmpty, random.chance(0.2) {
                host = random.pick(earlier)
                host.file = file
                host.format = format
            } else {
                let position = random.below(line.count)
                let model = try #require(x86.model(named: line[position]), "the map lacks \(line[position])")
                var newer = FeatureSet()
                for later in line[(position + 1)...] { newer.formUnion(try #require(x86.model(named: later)).features) }
                newer.subtract(model.features)
                var extras = FeatureSet()
                for index in newer where random.chance(0.3) { extras.insert(index) }
                for name in intel ? intelHostOnly : amdHostOnly where random.chance(0.5) {
                    let feature = try #require(x86.feature(named: name), "the map lacks \(name)")
                    if !model.features.contains(feature.index) { extras.insert(feature.index) }
                }
                host = FleetHost(file: file, model: model.name, vendor: vendor, extras: x86.names(of: extras),
                                 features: model.features.union(extras), format: format)
            }
            host.declared = []
            host.misdeclared = []
            if format == .domainCapabilities {
                for name in line + ["kvm64", "qemu64"] {
                    let model = try #require(x86.model(named: name))
                    host.declared.append((name, model.features.isSubset(of: host.features) ? "yes" : "no",
                                          deprecated.contains(name)))
                }
                if random.chance(0.5) {
                    let lie = random.below(host.declared.count)
                    host.declared[lie].usable = host.declared[lie].usable == "yes" ? "no" : "yes"
                    host.misdeclared.insert(host.declared[lie].name)
                }
            }
            hosts.append(host)
        }
        return hosts
    }

    /// Writes the hosts into `folder`.
    static func write(_ hosts: [FleetHost], to folder: String) {
        for host in hosts { CPUCompatTests.write(host.xml, to: folder + "/" + host.file) }
    }
}

/// The fleet written to a scratch folder and read back, with the map it was built from.
struct LoadedFleet {
    let map: CPUMap
    let x86: CPUArchitecture
    let folder: String
    let generated: [FleetHost]
    let hosts: [CPU]

    init() throws {
        map = try CPUMap.resolve()
        x86 = try #require(map.x86)
        generated = try Fleet.generate(x86)
        folder = makeScratchDirectory()
        Fleet.write(generated, to: folder)
        hosts = try map.readHosts([folder])
    }

    func remove() { removeTree(folder) }

    /// Same-vendor parts of the fleet: a whole vendor, or its newer generations.
    static let subFleets = ["Intel", "AMD", "Intel Haswell and newer", "AMD EPYC"]

    /// The hosts and their generated descriptions of a sub-fleet, in input order.
    func only(_ subFleet: String) -> (hosts: [CPU], generated: [FleetHost]) {
        let indices = generated.indices.filter { index in
            let host = generated[index]
            switch subFleet {
            case "Intel Haswell and newer": return host.vendor == "Intel" && Fleet.intelLine.dropFirst(3).contains(host.model)
            case "AMD EPYC": return host.vendor == "AMD" && host.model.hasPrefix("EPYC")
            default: return host.vendor == subFleet
            }
        }
        return (indices.map { hosts[$0] }, indices.map { generated[$0] })
    }

    static func vendor(of subFleet: String) -> String { subFleet.hasPrefix("AMD") ? "AMD" : "Intel" }
}

/// The x86-64 levels as the psABI lists them, in libvirt's names, written out
/// here rather than taken from `MicroarchitectureLevel`.
enum PsABI {
    static let v1 = ["cmov", "cx8", "fpu", "fxsr", "mmx", "syscall", "sse", "sse2", "lm"]
    static let v2 = ["cx16", "lahf_lm", "popcnt", "pni", "sse4.1", "sse4.2", "ssse3"]
    static let v3 = ["avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave"]
    static let v4 = ["avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"]

    /// The level of a set of feature names: the highest whose lists, and all below, are present.
    static func level(of names: Set<String>) -> MicroarchitectureLevel? {
        var reached: MicroarchitectureLevel?
        for (level, list) in [(MicroarchitectureLevel.v1, v1), (.v2, v2), (.v3, v3), (.v4, v4)] {
            guard list.allSatisfy(names.contains) else { break }
            reached = level
        }
        return reached
    }
}

/// Runs a program and returns its status and standard output.
private func runClusterProgram(_ path: String, _ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
}

private func clusterCPU(_ xml: String, path: String = "cpu.xml", in map: CPUMap) throws -> CPU {
    let definitions = try CPUDefinitionReader.read(Array(xml.utf8), path: path)
    return try map.resolve(try #require(definitions.first))
}

/// A bare host `<cpu>` with only the given features (no model, no vendor).
private func clusterBareCPU(_ features: [String], in map: CPUMap) throws -> CPU {
    try clusterCPU("<cpu>" + features.map { "<feature name='\($0)'/>" }.joined() + "</cpu>", in: map)
}

private let clusterVirshInstalled = FileManager.default.isExecutableFile(atPath: "/usr/bin/virsh")
private let clusterSystemMapInstalled = FileManager.default.fileExists(atPath: TestPaths.systemMap + "/index.xml")
private let clusterMasterMapPresent = FileManager.default.fileExists(atPath: TestPaths.masterMap + "/index.xml")

// MARK: - The fleet itself

@Suite struct ClusterFleetTests {
    @Test func fleetSpansGenerationsVendorsAndBothFileKinds() throws {
        let fleet = try LoadedFleet()
        defer { fleet.remove() }
        #expect(fleet.generated.count >= 50)
        #expect(Set(fleet.generated.map(\.vendor)) == ["Intel", "AMD"])
        #expect(Set(fleet.generated.map(\.model)).count >= 9, "models used: \(Set(fleet.generated.map(\.model)).sorted())")
        #expect(fleet.generated.contains { $0.format == .capabilities })
        #expect(fleet.generated.contains { $0.format == .domainCapabilities })
        #expect(fleet.generated.contains { !$0.misdeclared.isEmpty })
        #expect(Set(fleet.generated.map { $0.features }).count < fleet.generated.count, "no two hosts are identical")
        // The same seed gives the same files.
        #expect(try Fleet.generate(fleet.x86).map(\.xml) == fleet.generated.map(\.xml))
        #expect(try Fleet.generate(fleet.x86, seed: 1).map(\.xml) != fleet.generated.map(\.xml))
        // Every host-only feature name exists in the map (the generator needs them).
        for name in Fleet.intelHostOnly + Fleet.amdHostOnly { #expect(fleet.x86.feature(named: name) != nil, "\(name)") }
    }

    @Test func readHostsReadsTheFolderInNameOrder() throws {
        let fleet = try LoadedFleet()
        defer { fleet.remove() }
        #expect(fleet.hosts.map(\.definition.path) == fleet.generated.map { fleet.folder + "/" + $0.file })
        for (host, generated) in zip(fleet.hosts, fleet.generated) {
            #expect(host.features == generated.features, "\(generated.file)")
            #expect(host.model?.name == generated.model)
            #expect(host.vendor?.name == generated.vendor)
            #expect(host.definition.source == (generated.format == .capabilities ? .capabilities : .domainCapabilities))
            #expect(host.definition.declaredModels.map(\.name) == generated.declared.map(\.name))
            #expect(host.definition.declaredModels.map(\.usable) == generated.declared.map(\.usable))
        }
    }
}

// MARK: - models

@Suite struct ClusterModelsTests {
    /// Every row of `models` for a same-vendor sub-fleet, against an
    /// independent computation, and `best` against the baseline.
    @Test(arguments: LoadedFleet.subFleets)
    func modelRowsMatchAnIndependentComputation(subFleet: String) throws {
        let fleet = try LoadedFleet()
        defer { fleet.remove() }
        let x86 = fleet.x86
        let vendor = LoadedFleet.vendor(of: subFleet)
        let (hosts, generated) = fleet.only(subFleet)
        try #require(hosts.count >= 5, "only \(hosts.count) hosts in the \(subFleet) sub-fleet")
        let report = x86.modelUsability(of: hosts)

        #expect(report.hosts.map(\.path) == hosts.map(\.definition.path))
        // Without includeAll: the vendor's and vendor-neutral models that some
        // host runs or some domcapabilities file declares.
        let expectedNames = x86.models.reversed().filter { model in
            (model.vendor == nil || model.vendor == vendor) && hosts.contains { host in
                model.features.isSubset(of: host.features) || host.definition.declaredModels.contains { $0.name == model.name }
            }
        }.map(\.name)
        #expect(report.models.map(\.name) == expectedNames)
        let everyModel = x86.modelUsability(of: hosts, includeAll: true)
        #expect(everyModel.models.map(\.name) == x86.models.reversed().map(\.name))

        var everywhere: [String] = []
        for row in report.models {
            let model = try #require(x86.model(named: row.name))
            #expect(row.vendor == model.vendor)
            var runnable = 0
            var blockers: [[String]] = []
            var blocked: [[String]: [String]] = [:]
            for (host, description) in zip(hosts, generated) {
                let missing = x86.features.filter { model.features.contains($0.index) && !description.features.contains($0.index) }
                    .map(\.name)
                if missing.isEmpty {
                    runnable += 1
                } else {
                    if blocked[missing] == nil { blockers.append(missing) }
                    blocked[missing, default: []].append(host.definition.path)
                }
            }
            #expect(row.runnableOn == runnable, "\(row.name)")
            #expect(row.blocked.map(\.missing) == blockers, "\(row.name)")
            #expect(row.blocked.map(\.hosts) == blockers.map { blocked[$0] ?? [] }, "\(row.name)")
            if runnable == hosts.count { everywhere.append(row.name) }
        }
        #expect(report.usableEverywhere == everywhere)
        #expect(report.partial == nil)

        // best: a model every host runs that a guest may use, chosen by the
        // baseline's own rules (checked against the baseline below).
        var common = generated[0].features
        for host in generated { common.formIntersection(host.features) }
        let best = try #require(report.best, "no best model for the \(subFleet) hosts")
        #expect(report.usableEverywhere.contains(best))
        #expect(x86.model(named: best)?.decodesGuest == true)
        #expect(x86.model(named: best).map { $0.vendor == nil || $0.vendor == vendor } == true)

        // libvirt's baseline picks the same model when it needs nothing disabled.
        let (baseline, baselineCommon) = try x86.baselineAndCommonFeatures(of: hosts)
        #expect(baselineCommon == common)
        print("cluster: \(subFleet) sub-fleet of \(hosts.count) hosts: baseline \(baseline.model), disable \(baseline.disable); best \(best)")
        // A baseline that disables features names a model some host cannot run, so not `best`.
        #expect(baseline.disable.isEmpty ? best == baseline.model : best != baseline.model, "\(subFleet)")
    }

    /// The baseline model of each sub-fleet from virsh itself, given the same
    /// CPUs as host `<cpu>` elements.
    @Test(.enabled(if: clusterVirshInstalled, "virsh (libvirt-clients) is not installed: the cluster cross-check against virsh is SKIPPED"),
          .enabled(if: clusterSystemMapInstalled, "libvirt's cpu_map is not installed: the cluster cross-check against virsh is SKIPPED"),
          arguments: LoadedFleet.subFleets)
    func bestAgreesWithVirshCPUBaseline(subFleet: String) throws {
        let fleet = try LoadedFleet()
        defer { fleet.remove() }
        try #require(fleet.map.origin == .directory(TestPaths.systemMap), "the tests use \(fleet.map.origin), virsh the installed map")
        let map = fleet.map, x86 = fleet.x86
        let generated = fleet.only(subFleet).generated
        let input = fleet.folder + "/virsh-input.txt"
        write(generated.map(\.hostCPUElement).joined(), to: input)
        let hosts = try map.readCPUs(contentsOf: input)
        #expect(hosts.map(\.features) == generated.map(\.features))

        let virsh = try runClusterProgram("/usr/bin/virsh", ["-c", "test:///default", "cpu-baseline", input])
        #expect(virsh.status == 0, "virsh: \(virsh.stderr)")
        let element = try #require(virsh.stdout.range(of: "<model"), "virsh printed \(virsh.stdout)")
        let start = try #require(virsh.stdout[element.upperBound...].firstIndex(of: ">"))
        let end = try #require(virsh.stdout.range(of: "</model>"))
        let virshModel = String(virsh.stdout[virsh.stdout.index(after: start)..<end.lowerBound])

        let baseline = try x86.baseline(of: hosts)
        #expect(baseline.model == virshModel)
        let report = x86.modelUsability(of: hosts)
        #expect(baseline.disable.isEmpty ? report.best == virshModel : report.best != virshModel, "\(subFleet)")
    }

    @Test func allListsEveryModelAndMixedFleetsListBothVendors() throws {
        let fleet = try LoadedFleet()
        defer { fleet.remove() }
        let x86 = fleet.x86
        let intel = fleet.only("Intel").hosts
        #expect(x86.modelUsability(of: intel, includeAll: true).models.map(\.name) == x86.models.reversed().map(\.name))
        #expect(!x86.modelUsability(of: intel).models.contains { $0.vendor == "AMD" })
        let mixed = x86.modelUsability(of: fleet.hosts)
        #expect(Set(mixed.models.compactMap(\.vendor)) == ["Intel", "AMD"])
        // With two vendors, only a vendor-neutral model can be the best.
        let best = try #require(mixed.best)
        #expect(x86.model(named: best)?.vendor == nil)
        #expect(mixed.usableEverywhere.contains(best))
    }

    @Test func minHostsChoosesAModelEnoughHostsRunAndNamesTheRest() throws {
        let fleet = try LoadedFleet()
        defer { fleet.remove() }
        let x86 = fleet.x86
        for (hosts, generated) in [(fleet.hosts, fleet.generated), fleet.only("Intel"), fleet.only("AMD")] {
            let count = hosts.count
            for minHosts in Set([1, 2, count / 4, count / 2, (3 * count) / 4, count - 1, count]) where minHosts >= 1 {
                let report = x86.modelUsability(of: hosts, minHosts: minHosts)
                let partial = try #require(report.partial)
                #expect(partial.minHosts == minHosts)
                let name = try #require(partial.model, "no model for --min-hosts \(minHosts) of \(count)")
                let model = try #require(x86.model(named: name))
                let runs = generated.map { model.features.isSubset(of: $0.features) }
                #expect(runs.filter { $0 }.count >= minHosts, "\(name) for --min-hosts \(minHosts)")
                #expect(partial.hostsLeftOut == zip(hosts, runs).filter { !$0.1 }.map(\.0.definition.path))
                // The rows of the report are not changed by --min-hosts.
                #expect(report.models == x86.modelUsability(of: hosts).models)
            }
            // With every host required, the choice is `best`.
            let everyHost = x86.modelUsability(of: hosts, minHosts: count)
            #expect(everyHost.partial?.model == everyHost.best)
            let tooMany = try #require(x86.modelUsability(of: hosts, minHosts: count + 1).partial)
            #expect(tooMany.model == nil)
        }
    }

    @Test(.enabled(if: clusterMasterMapPresent, "../shared/corpus/cpu_map-libvirt-master is absent: the versioned-model test is SKIPPED"))
    func versionedModelsOfTheNewestMapNameTheirCanonicalModel() throws {
        let map = try CPUMap(contentsOf: TestPaths.masterMap)
        let x86 = try #require(map.x86)
        let hosts = try map.readHosts([TestPaths.fixture("kvm02.xml"), TestPaths.fixture("kvm03.xml")])
        let report = x86.modelUsability(of: hosts, includeAll: true)
        let canonical = Dictionary(uniqueKeysWithValues: report.models.map { ($0.name, $0.canonical) })
        // From the map's files: x86_Haswell-v4.xml is <model name='Haswell-noTSX-IBRS'/> and nothing else.
        #expect(canonical["Haswell-v4"] == .some("Haswell-noTSX-IBRS"))
        #expect(canonical["Haswell-v1"] == .some("Haswell"))
        #expect(canonical["Haswell-v2"] == .some("Haswell-noTSX"))
        #expect(x86.modelUsability(of: hosts).models.allSatisfy { $0.vendor != "AMD" }, "an AMD model in an Intel report")
        #expect(canonical["Haswell-noTSX-IBRS"] == .some(nil))
        // A canonical name always names a model with exactly the same features.
        for row in report.models {
            guard let name = row.canonical else { continue }
            let model = try #require(x86.model(named: row.name)), target = try #require(x86.model(named: name))
            #expect(model.features == target.features, "\(row.name) → \(name)")
            #expect(target.name != row.name)
        }
        #expect(report.text.contains("Haswell-v4 (Haswell-noTSX-IBRS)"))
    }

    @Test func domcapabilitiesDeclarationsAreCheckedAgainstTheFeatures() throws {
        let map = try CPUMap.resolve()
        let x86 = try #require(map.x86)
        let folder = makeScratchDirectory()
        defer { removeTree(folder) }
        let path = folder + "/kvm09-domcaps.xml"
        write("""
        <domainCapabilities>
          <arch>x86_64</arch>
          <cpu>
            <mode name='host-model' supported='yes'>
              <model fallback='forbid'>Haswell-noTSX-IBRS</model>
              <vendor>Intel</vendor>
              <feature policy='require' name='vmx'/>
              <feature policy='require' name='abm'/>
            </mode>
            <mode name='custom' supported='yes'>
              <model usable='no' vendor='Intel'>Haswell-noTSX-IBRS</model>
              <model usable='yes' vendor='Intel'>Skylake-Server</model>
              <model usable='yes' vendor='Intel' deprecated='yes'>SandyBridge</model>
              <model usable='no' vendor='Intel'>Cascadelake-Server</model>
              <model usable='unknown' vendor='Intel'>Westmere</model>
            </mode>
          </cpu>
        </domainCapabilities>
        """, to: path)
        let hosts = try map.readHosts([path])
        let report = x86.modelUsability(of: hosts)
        func declaration(_ name: String) throws -> ModelUsabilityReport.Declaration {
            let row = try #require(report.models.first { $0.name == name })
            #expect(row.declared.count == 1)
            return try #require(row.declared.first)
        }
        let haswell = try declaration("Haswell-noTSX-IBRS")
        #expect(haswell.host == path)
        #expect(haswell.usable == "no")
        #expect(haswell.disagreement == "the file says not usable, but the host has every feature of the model")

        let skylake = try declaration("Skylake-Server")
        let skylakeModel = try #require(x86.model(named: "Skylake-Server"))
        let lacking = x86.names(of: skylakeModel.features.subtracting(hosts[0].features))
        #expect(!lacking.isEmpty)
        #expect(skylake.disagreement == "the file says usable, but the host lacks \(lacking.joined(separator: ","))")

        let sandy = try declaration("SandyBridge")
        #expect(sandy.deprecated)
        #expect(sandy.disagreement == nil)
        #expect(try declaration("Cascadelake-Server").disagreement == nil)
        let westmere = try declaration("Westmere")
        #expect(westmere.usable == "unknown")
        #expect(westmere.disagreement == nil)
        #expect(!westmere.deprecated)
        // Models the file does not list have no declarations.
        let everyModel = x86.modelUsability(of: hosts, includeAll: true)
        #expect(everyModel.models.first { $0.name == "Broadwell-noTSX" }?.declared == [])

        let text = report.text
        #expect(text.contains("\(path) (usable='no'): the file says not usable, but the host has every feature of the model"))
        #expect(text.contains("\(path) (usable='yes'): deprecated\n"))
    }

    @Test func fleetDisagreementsAreExactlyTheDeliberateOnes() throws {
        let fleet = try LoadedFleet()
        defer { fleet.remove() }
        let report = fleet.x86.modelUsability(of: fleet.hosts)
        var found: [String: Set<String>] = [:]
        var deprecatedSeen: Set<String> = []
        for row in report.models {
            for declaration in row.declared {
                if declaration.disagreement != nil { found[declaration.host, default: []].insert(row.name) }
                if declaration.deprecated { deprecatedSeen.insert(row.name) }
                #expect(declaration.deprecated == Fleet.deprecated.contains(row.name))
            }
        }
        var expected: [String: Set<String>] = [:]
        for host in fleet.generated where !host.misdeclared.isEmpty {
            expected[fleet.folder + "/" + host.file] = host.misdeclared
        }
        #expect(found == expected)
        #expect(deprecatedSeen == Fleet.deprecated)
        // Every declaration of the domcapabilities hosts is present.
        let declarations = report.models.reduce(0) { $0 + $1.declared.count }
        #expect(declarations == fleet.generated.reduce(0) { $0 + $1.declared.count })
    }
}

// MARK: - matrix

@Suite struct ClusterMatrixTests {
    /// Checks `matrix` against `diff` for every ordered pair of hosts.
    private func checkPairs(_ matrix: MigrationMatrix, hosts: [CPU], generated: [FleetHost], x86: CPUArchitecture) throws {
        var groupOf: [String: MigrationMatrix.Group] = [:]
        for group in matrix.groups {
            for host in group.hosts {
                #expect(groupOf[host] == nil, "\(host) is in two groups")
                groupOf[host] = group
            }
        }
        #expect(groupOf.count == hosts.count)
        #expect(matrix.groups.map(\.name) == matrix.groups.indices.map { "G\($0 + 1)" })
        #expect(matrix.pairs.count == matrix.groups.count * (matrix.groups.count - 1))

        // Groups in order of first appearance, hosts in input order.
        let paths = hosts.map(\.definition.path)
        let firsts = matrix.groups.compactMap { $0.hosts.first.flatMap(paths.firstIndex(of:)) }
        #expect(firsts == firsts.sorted())
        for group in matrix.groups {
            #expect(group.hosts == paths.filter { groupOf[$0]?.name == group.name })
        }

        for (a, fa) in zip(hosts, generated) {
            let ga = try #require(groupOf[a.definition.path])
            #expect(ga.featureCount == fa.features.count)
            #expect(ga.vendor == fa.vendor)
            #expect(ga.level == PsABI.level(of: Set(x86.names(of: fa.features))))
            for (b, fb) in zip(hosts, generated) {
                let gb = try #require(groupOf[b.definition.path])
                if ga.name == gb.name {
                    #expect(fa.features == fb.features, "\(fa.file) and \(fb.file) share \(ga.name)")
                    #expect(matrix.pair(from: ga.name, to: gb.name) == nil)
                    continue
                }
                #expect(fa.features != fb.features, "\(fa.file) and \(fb.file) are identical but in \(ga.name), \(gb.name)")
                let pair = try #require(matrix.pair(from: ga.name, to: gb.name))
                #expect(pair.from == ga.name && pair.to == gb.name)
                #expect(pair.canMigrate == fa.features.isSubset(of: fb.features), "\(fa.file) → \(fb.file)")
                let diff = x86.diff(from: a, to: b)
                #expect(pair.missing == diff.missingOnDestination, "\(fa.file) → \(fb.file)")
                #expect(pair.missing == x86.names(of: fa.features.subtracting(fb.features)))
            }
        }
    }

    @Test func mixedFleetPairsAgreeWithDiffAndHaveNoBaseline() throws {
        let fleet = try LoadedFleet()
        defer { fleet.remove() }
        let matrix = fleet.x86.migrationMatrix(of: fleet.hosts)
        try checkPairs(matrix, hosts: fleet.hosts, generated: fleet.generated, x86: fleet.x86)
        #expect(matrix.groups.count == Set(fleet.generated.map(\.features)).count)
        #expect(matrix.groups.contains { $0.hosts.count > 1 })
        #expect(matrix.baseline == nil)
        let error = try #require(matrix.baselineError)
        #expect(error.contains("CPU vendors do not match"))
        #expect(matrix.groups.allSatisfy { $0.lostUnderBaseline.isEmpty })
        #expect(matrix.text.contains("cluster baseline: none (CPU vendors do not match"))
    }

    @Test(.enabled(if: clusterVirshInstalled && clusterSystemMapInstalled,
                   "virsh or libvirt's cpu_map is not installed: the matrix baseline cannot be checked against virsh, SKIPPED"),
          arguments: LoadedFleet.subFleets)
    func sameVendorFleetLosesExactlyWhatTheBaselineLacks(subFleet: String) throws {
        let fleet = try LoadedFleet()
        defer { fleet.remove() }
        let x86 = fleet.x86
        let (hosts, generated) = fleet.only(subFleet)
        let matrix = x86.migrationMatrix(of: hosts)
        try checkPairs(matrix, hosts: hosts, generated: generated, x86: x86)
        #expect(matrix.baselineError == nil)
        let baseline = try #require(matrix.baseline)
        var common = generated[0].features
        for host in generated { common.formIntersection(host.features) }
        #expect(try x86.baselineAndCommonFeatures(of: hosts).common == common)
        // The cluster baseline's model, from virsh itself (not from the call the matrix makes).
        let input = fleet.folder + "/matrix-virsh-input.xml"
        write(generated.map(\.hostCPUElement).joined(), to: input)
        let virsh = try runClusterProgram("/usr/bin/virsh", ["-c", "test:///default", "cpu-baseline", input])
        try #require(virsh.status == 0, "virsh: \(virsh.stderr)")
        #expect(virsh.stdout.contains(">\(baseline.model)</model>"), "virsh: \(virsh.stdout.prefix(200)), matrix: \(baseline.model)")
        for group in matrix.groups {
            let index = try #require(hosts.firstIndex { $0.definition.path == group.hosts.first })
            #expect(group.lostUnderBaseline == x86.names(of: generated[index].features.subtracting(common)), "\(group.name)")
        }
    }
}

// MARK: - x86-64 levels

@Suite struct ClusterLevelTests {
    @Test func storyHostsAndTheirBaseline() throws {
        let map = try CPUMap.resolve()
        let kvm02 = try map.readSingleCPU(contentsOf: TestPaths.fixture("kvm02.xml"))
        let kvm03 = try map.readSingleCPU(contentsOf: TestPaths.fixture("kvm03.xml"))
        let x86 = try map.x86Architecture(for: [kvm02, kvm03])
        #expect(x86.level(of: kvm02.features) == .v3)
        #expect(x86.level(of: kvm03.features) == .v2)
        let baseline = try x86.baseline(of: [kvm02, kvm03])
        #expect(baseline.level == .v2)
        #expect(baseline.warnings == ["the baseline is x86-64-v2, while 1 host is at a higher level (up to x86-64-v3); RHEL 9 guests need x86-64-v2, RHEL 10 guests x86-64-v3"],
                "kvm02's guests lose x86-64-v3 under the baseline")
        let diff = x86.diff(from: kvm02, to: kvm03)
        #expect(diff.source.level == .v3)
        #expect(diff.destination.level == .v2)
        #expect(diff.baseline?.level == .v2)
        // The psABI lists written out here agree.
        #expect(PsABI.level(of: Set(x86.names(of: kvm02.features))) == .v3)
        #expect(PsABI.level(of: Set(x86.names(of: kvm03.features))) == .v2)
    }

    /// Bare `<cpu>`s with exactly some psABI lists: the boundaries.
    @Test(arguments: [
        (PsABI.v1, MicroarchitectureLevel.v1),
        (PsABI.v1.filter { $0 != "lm" }, nil),
        (PsABI.v1.filter { $0 != "sse2" }, nil),
        (PsABI.v1 + PsABI.v2, .v2),
        (PsABI.v1 + PsABI.v2.filter { $0 != "popcnt" }, .v1),
        (PsABI.v1 + PsABI.v2.filter { $0 != "lahf_lm" }, .v1),
        (PsABI.v2, nil),
        (PsABI.v1 + PsABI.v2 + PsABI.v3.filter { $0 != "avx" }, .v2),
        (PsABI.v1 + PsABI.v2 + PsABI.v3.filter { $0 != "xsave" }, .v2),
        (PsABI.v1 + PsABI.v2 + PsABI.v3.filter { $0 != "abm" }, .v2),
        (PsABI.v1 + PsABI.v2 + PsABI.v3.filter { $0 != "movbe" }, .v2),
        (PsABI.v1 + PsABI.v2 + PsABI.v3, .v3),
        (PsABI.v1 + PsABI.v2 + PsABI.v4, .v2),
        (PsABI.v1 + PsABI.v2 + PsABI.v3 + PsABI.v4.filter { $0 != "avx512vl" }, .v3),
        (PsABI.v1 + PsABI.v2 + PsABI.v3 + PsABI.v4, .v4),
        ((PsABI.v1 + PsABI.v2 + PsABI.v3 + PsABI.v4).filter { $0 != "lm" }, nil),
    ] as [([String], MicroarchitectureLevel?)])
    func levelBoundaries(features: [String], expected: MicroarchitectureLevel?) throws {
        let map = try CPUMap.resolve()
        let x86 = try #require(map.x86)
        let host = try clusterBareCPU(features, in: map)
        #expect(x86.level(of: host.features) == expected)
        #expect(CPUSummary(host, in: x86).level == expected)
        // Extra features that are no psABI feature change nothing.
        let more = try clusterBareCPU(features + ["vmx", "aes", "pclmuldq", "rdrand"], in: map)
        #expect(x86.level(of: more.features) == expected)
    }

    @Test func levelEncodesAsItsName() throws {
        let data = try JSONEncoder().encode([MicroarchitectureLevel.v1, .v4])
        #expect(String(decoding: data, as: UTF8.self) == #"["x86-64-v1","x86-64-v4"]"#)
        #expect(try JSONDecoder().decode([MicroarchitectureLevel].self, from: data) == [.v1, .v4])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([MicroarchitectureLevel].self, from: Data(#"["x86-64-v5"]"#.utf8)) }
    }

    /// The warning fires exactly when some host is at a higher level than
    /// the baseline (a baseline can never be below every host: each host at
    /// vN or above keeps vN's features, so their intersection does too).
    @Test(arguments: LoadedFleet.subFleets)
    func warningWhenSomeHostIsAboveTheBaseline(subFleet: String) throws {
        let fleet = try LoadedFleet()
        defer { fleet.remove() }
        let (hosts, _) = fleet.only(subFleet)
        var random = FleetRandom(seed: Fleet.seed ^ 0x1E7E1)
        for _ in 0..<40 {
            let subset = hosts.filter { _ in random.chance(0.3) }
            guard !subset.isEmpty else { continue }
            let baseline = try fleet.x86.baseline(of: subset)
            let levels = subset.compactMap { fleet.x86.level(of: $0.features) }
            let lowest = levels.min()
            #expect(baseline.level.map { level in lowest.map { level >= $0 } ?? true } ?? (lowest == nil))
            let above = levels.filter { level in baseline.level.map { level > $0 } ?? true }
            #expect(baseline.warnings.contains { $0.hasPrefix("the baseline is") } == !above.isEmpty)
        }
    }

    /// A baseline can fall below every host only when --migratable drops a
    /// psABI feature: a map that marks one migratable='no'.
    @Test func warningWhenTheMigratableBaselineFallsBelowEveryHost() throws {
        let folder = makeScratchDirectory()
        defer { removeTree(folder) }
        let names = PsABI.v1 + PsABI.v2 + PsABI.v3
        let features = names.enumerated().map { index, name in
            "<feature name='\(name)'\(name == "avx" ? " migratable='no'" : "")><cpuid eax_in='0x01' edx='0x\(String(UInt32(1) << UInt32(index), radix: 16))'/></feature>"
        }
        write("""
        <cpus>
          <arch name='x86'>
            <vendor name='Intel' string='GenuineIntel'/>
            \(features.joined(separator: "\n    "))
            <model name='base'><feature name='fpu'/></model>
          </arch>
        </cpus>
        """, to: folder + "/cpu_map.xml")
        let map = try CPUMap(contentsOf: folder + "/cpu_map.xml")
        let x86 = try #require(map.x86)
        // libvirt refuses baseline input without a model: name the map's one model.
        let host = "<cpu><model>base</model>" + names.map { "<feature name='\($0)'/>" }.joined() + "</cpu>"
        let a = try clusterCPU(host, in: map), b = try clusterCPU(host, in: map)
        #expect(x86.level(of: a.features) == .v3)

        let plain = try x86.baseline(of: [a, b])
        #expect(plain.level == .v3)
        #expect(plain.warnings.isEmpty)

        let migratable = try x86.baseline(of: [a, b], options: .init(migratableOnly: true))
        #expect(migratable.level == .v2)
        #expect(migratable.warnings == ["the baseline is x86-64-v2, while 2 hosts are at a higher level (up to x86-64-v3); RHEL 9 guests need x86-64-v2, RHEL 10 guests x86-64-v3"])
    }
}

// MARK: - Cross-vendor baselines

@Suite struct ClusterCrossVendorTests {
    @Test func intelAndAMDNeedTheFlag() throws {
        let fleet = try LoadedFleet()
        defer { fleet.remove() }
        let x86 = fleet.x86
        let intel = try #require(fleet.only("Intel").hosts.first)
        let amd = try #require(fleet.only("AMD").hosts.first)
        let error = #expect(throws: CPUCompatError.self) { try x86.baseline(of: [intel, amd]) }
        #expect(error?.description.hasPrefix("CPU vendors do not match") == true)
        let (baseline, common) = try x86.baselineAndCommonFeatures(of: [intel, amd], options: .init(allowCrossVendor: true))
        #expect(baseline.vendor == nil)
        #expect(try #require(x86.model(named: baseline.model)).vendor == nil)
        #expect(!baseline.libvirtXML.contains("<vendor>"))
        #expect(baseline.warnings.contains { $0.contains("different CPU vendors") })
        #expect(common == intel.features.intersection(amd.features))

        // The whole mixed fleet too.
        let all = try x86.baseline(of: fleet.hosts, options: .init(allowCrossVendor: true))
        #expect(try #require(x86.model(named: all.model)).vendor == nil)
        #expect(all.warnings.filter { $0.contains("different CPU vendors") }.count == 1)
    }
}

// MARK: - explain

@Suite struct ClusterExplainTests {
    private func x86() throws -> CPUArchitecture { try #require(try CPUMap.resolve().x86) }

    private func feature(_ name: String) throws -> FeatureExplanation {
        guard case let .feature(feature) = try x86().explain(name) else {
            Issue.record("\(name) explained as a model")
            throw CPUCompatError.incompatible(message: "not a feature")
        }
        return feature
    }

    // Bit positions from /usr/share/libvirt/cpu_map/x86_features.xml:
    // avx2 eax_in=0x07 ecx_in=0x00 ebx=0x00000020; sse4.1 eax_in=0x01 ecx=0x00080000;
    // invtsc eax_in=0x80000007 edx=0x00000100; rdctl-no msr 0x10a eax=0x00000001.
    @Test func featureLocations() throws {
        let avx2 = try feature("avx2")
        #expect(avx2.location == ["CPUID leaf 0x7 subleaf 0x0 EBX bit 5"])
        #expect(avx2.migratable)
        #expect(avx2.oldestModel == "Haswell-noTSX")
        #expect(avx2.models.contains("EPYC"))
        #expect(!avx2.models.contains("IvyBridge"))

        #expect(try feature("rdctl-no").location == ["MSR 0x10a EAX bit 0"])

        let sse41 = try feature("sse4_1")
        #expect(sse41.name == "sse4.1")
        #expect(Set(sse41.aliases) == ["sse4_1", "sse4-1"])
        #expect(sse41.location == ["CPUID leaf 0x1 ECX bit 19"])

        let invtsc = try feature("invtsc")
        #expect(!invtsc.migratable)
        #expect(invtsc.location == ["CPUID leaf 0x80000007 EDX bit 8"])
        #expect(invtsc.oldestModel == nil)
        #expect(invtsc.models.isEmpty)
        #expect(Explanation.feature(invtsc).text.contains("  migratable: no\n"))
    }

    @Test func modelExplanation() throws {
        let x86 = try x86()
        guard case let .model(model) = try x86.explain("Haswell-noTSX-IBRS") else {
            Issue.record("Haswell-noTSX-IBRS explained as a feature")
            return
        }
        #expect(model.vendor == "Intel")
        // x86_Haswell-noTSX-IBRS.xml: signatures family 6 models 60, 63, 69, 70; it is
        // x86_Haswell-noTSX.xml plus spec-ctrl, and comes right after it in index.xml.
        #expect(model.signatures == ["family 6 model 60", "family 6 model 63", "family 6 model 69", "family 6 model 70"])
        #expect(model.previousModel == "Haswell-noTSX")
        #expect(model.addedFeatures == ["spec-ctrl"])
        #expect(model.removedFeatures == [])
        #expect(model.canonical == nil)
        let haswell = try #require(x86.model(named: "Haswell-noTSX-IBRS"))
        #expect(model.features == x86.names(of: haswell.features))
        #expect(model.level == PsABI.level(of: Set(model.features)))
        let text = Explanation.model(model).text
        #expect(text.contains("  vendor: Intel\n"))
        #expect(text.contains("  adds over Haswell-noTSX: spec-ctrl\n"))
    }

    @Test func unknownNamesThrow() throws {
        #expect(throws: CPUCompatError.unknownName(name: "no-such-thing", nearest: [])) {
            try x86().explain("no-such-thing")
        }
        #expect(throws: CPUCompatError.unknownName(name: "avx3", nearest: ["avx", "avx2", "adx"])) {
            try x86().explain("avx3")
        }
    }

    @Test func explanationsRoundTripThroughJSON() throws {
        let x86 = try x86()
        let explanations = try ["avx2", "rdctl-no", "Haswell-noTSX-IBRS", "EPYC-Rome", "qemu64"].map { try x86.explain($0) }
        let data = try JSONEncoder().encode(explanations)
        #expect(try JSONDecoder().decode([Explanation].self, from: data) == explanations)
        let objects = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        #expect(objects.map { $0["kind"] as? String } == ["feature", "feature", "model", "model", "model"])
    }
}

/// Cases where the best runnable model once differed from libvirt's baseline.
@Suite struct ClusterBestModelRegressionTests {
    @Test func twoHostsNamingTheSameModelKeepIt() throws {
        let map = try CPUMap.resolve()
        let extras = ["rdseed", "adx", "smap", "3dnowprefetch", "abm"]
        let xml = "<cpu><arch>x86_64</arch><model>Haswell-noTSX-IBRS</model><vendor>Intel</vendor>"
            + extras.map { "<feature name='\($0)'/>" }.joined() + "</cpu>"
        let hosts = try (0..<2).map { index in
            try CPUDefinitionReader.read(Array(xml.utf8), path: "h\(index).xml").map { try map.resolve($0) }[0]
        }
        let x86 = try map.x86Architecture(for: hosts)
        let baseline = try x86.baseline(of: hosts)
        #expect(baseline.model == "Haswell-noTSX-IBRS" && baseline.disable.isEmpty)
        #expect(x86.modelUsability(of: hosts).best == "Haswell-noTSX-IBRS")
    }
}
