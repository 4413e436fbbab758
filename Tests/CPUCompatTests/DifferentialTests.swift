import Foundation
import Testing
@testable import CPUCompat

// Differential tests: cpucompat's baseline against the real `virsh -c
// test:///default cpu-baseline FILE [--features]` of each libvirt release our
// users run (9.0, 11.3, 12.9), each with that release's own CPU map, as
// installed side by side by ../shared/oracles/provision (`.ci/run` calls it).
//
// Both sides get the same bytes and the same CPU map. They must agree on
// success or failure; on success the output must be identical byte for byte
// (virsh prints the `<cpu>` element plus one extra newline), and on failure
// the reason must be the same kind (vendor mismatch, unknown feature, …).
//
// The generated cases are seeded: a failure message names the seed and the
// case number, and `CPUCOMPAT_DIFF_SEED=<seed> CPUCOMPAT_DIFF_CASES=<n>`
// reproduces (or widens) a run. Every case's RNG is derived from the seed
// and the case number alone, so case N is the same whatever the case count.
// `CPUCOMPAT_DIFF_KEEP=<folder>` writes every mismatch there (input, virsh's
// stdout and stderr, cpucompat's output) for a closer look.

@Suite("Differential tests against each libvirt release's virsh cpu-baseline")
struct DifferentialTests {
    @Test(.enabled(if: Oracle.v9_0.isAvailable, Oracle.v9_0.skipReason))
    func generatedCasesMatchVirsh9_0() throws { try generatedCasesMatch(Oracle.v9_0) }

    @Test(.enabled(if: Oracle.v11_3.isAvailable, Oracle.v11_3.skipReason))
    func generatedCasesMatchVirsh11_3() throws { try generatedCasesMatch(Oracle.v11_3) }

    @Test(.enabled(if: Oracle.v12_9.isAvailable, Oracle.v12_9.skipReason))
    func generatedCasesMatchVirsh12_9() throws { try generatedCasesMatch(Oracle.v12_9) }

    @Test(.enabled(if: Oracle.v9_0.isAvailable, Oracle.v9_0.skipReason),
          .enabled(if: Oracle.corpusPresent, Oracle.corpusSkipReason))
    func corpusHostsMatchVirsh9_0() throws { try corpusHostsMatch(Oracle.v9_0) }

    @Test(.enabled(if: Oracle.v11_3.isAvailable, Oracle.v11_3.skipReason),
          .enabled(if: Oracle.corpusPresent, Oracle.corpusSkipReason))
    func corpusHostsMatchVirsh11_3() throws { try corpusHostsMatch(Oracle.v11_3) }

    @Test(.enabled(if: Oracle.v12_9.isAvailable, Oracle.v12_9.skipReason),
          .enabled(if: Oracle.corpusPresent, Oracle.corpusSkipReason))
    func corpusHostsMatchVirsh12_9() throws { try corpusHostsMatch(Oracle.v12_9) }

    /// Generated host CPUs of every kind, 1 to 6 per case, from the release's own map.
    private func generatedCasesMatch(_ oracle: Oracle) throws {
        let started = Date()
        let map = try CPUMap(contentsOf: oracle.mapPath)
        let x86 = try #require(map.x86)
        let generator = try CaseGenerator(x86: x86)
        let seed = Oracle.seed
        let count = Oracle.caseCount
        let scratch = makeScratchDirectory()
        defer { removeTree(scratch) }

        var report = MismatchReport(title: "libvirt \(oracle.release): generated cases (seed \(Oracle.hex(seed)))")
        var kindCounts: [CaseKind: Int] = [:]
        for number in 0..<count {
            let generated = generator.makeCase(seed: seed, number: number)
            kindCounts[generated.kind, default: 0] += 1
            let file = scratch + "/case-\(number).xml"
            write(generated.oracleXML ?? generated.xml, to: file)
            for expand in [false, true] {
                let comparison = try oracle.compare(
                    file: file, xml: generated.xml, map: map, x86: x86, expand: expand,
                    label: "libvirt \(oracle.release) seed \(Oracle.hex(seed)) case \(number) [\(generated.kind.rawValue)]",
                    kind: generated.kind.rawValue)
                report.add(comparison)
            }
        }
        let kinds = CaseKind.allCases.map { "\($0.rawValue) \(kindCounts[$0, default: 0])" }.joined(separator: ", ")
        print("differential libvirt \(oracle.release): \(count) generated cases (\(kinds)), "
              + "\(report.comparisons) comparisons, \(report.mismatches.count) mismatches, "
              + "\(report.failuresAgreed) agreed failures, \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
        report.record()
    }

    /// Real hosts from libvirt's test data whose names the release's map
    /// knows: each alone, and seeded pairs and triples of hosts of one vendor.
    private func corpusHostsMatch(_ oracle: Oracle) throws {
        let started = Date()
        let map = try CPUMap(contentsOf: oracle.mapPath)
        let x86 = try #require(map.x86)
        let folder = Oracle.corpusFolder
        let names = try FileManager.default.contentsOfDirectory(atPath: folder)
            .filter { $0.hasPrefix("x86_64-cpuid-") && $0.hasSuffix("-host.xml") }
            .sorted()
        try #require(!names.isEmpty, "no x86_64-cpuid-*-host.xml files in \(folder)")

        // Usable: the model and every feature are canonical names of this
        // release's map (libvirt does not accept aliases in baseline input).
        // Decided from the map alone, not from either side's result.
        let canonical = Set(x86.features.map(\.name))
        var usable: [(name: String, xml: String, vendor: String?)] = []
        var skipped: [String] = []
        for name in names {
            let path = folder + "/" + name
            let xml = try String(contentsOfFile: path, encoding: .utf8)
            let definitions = try CPUDefinitionReader.read(Array(xml.utf8), path: name)
            guard definitions.count == 1, let definition = definitions.first,
                  let model = definition.model, x86.model(named: model) != nil,
                  definition.features.allSatisfy({ canonical.contains($0.name) })
            else {
                skipped.append(name)
                continue
            }
            usable.append((name, xml, definition.vendor))
        }
        print("differential corpus, libvirt \(oracle.release): \(usable.count) of \(names.count) hosts usable, "
              + "\(skipped.count) skipped (model or feature names unknown to this release's map)")
        try #require(!usable.isEmpty, "no corpus host is usable with libvirt \(oracle.release)'s map")

        var report = MismatchReport(title: "libvirt \(oracle.release): corpus hosts")
        for host in usable {
            for expand in [false, true] {
                report.add(try oracle.compare(
                    file: folder + "/" + host.name, xml: host.xml, map: map, x86: x86, expand: expand,
                    label: "libvirt \(oracle.release) \(host.name)", kind: "single host"))
            }
        }

        // Seeded pairs (120) and triples (40) of distinct hosts of one vendor:
        // all pairs would be ~1,600 runs of virsh per release.
        let scratch = makeScratchDirectory()
        defer { removeTree(scratch) }
        let seed = Oracle.seed ^ 0xC0A9_05F0_0D15_EA5E
        var random = DiffSplitMix64(seed: seed)
        let byVendor = Dictionary(grouping: usable.indices) { usable[$0].vendor ?? "-" }
            .filter { $0.value.count >= 2 }
        let vendors = byVendor.keys.sorted()
        var groupsToRun: [[Int]] = []
        for number in 0..<(vendors.isEmpty ? 0 : 160) {
            var pool = byVendor[random.pick(vendors)] ?? []
            random.shuffle(&pool)
            groupsToRun.append(Array(pool.prefix(number < 120 ? 2 : 3)))
        }
        for (number, members) in groupsToRun.enumerated() {
            let xml = members.map { usable[$0].xml.hasSuffix("\n") ? usable[$0].xml : usable[$0].xml + "\n" }.joined()
            let file = scratch + "/group-\(number).xml"
            write(xml, to: file)
            let label = "libvirt \(oracle.release) corpus group \(number): "
                + members.map { usable[$0].name }.joined(separator: " + ")
            for expand in [false, true] {
                report.add(try oracle.compare(
                    file: file, xml: xml, map: map, x86: x86, expand: expand,
                    label: label, kind: "group of \(members.count)"))
            }
        }
        print("differential corpus, libvirt \(oracle.release): \(usable.count) single hosts and "
              + "\(groupsToRun.count) groups, \(report.comparisons) comparisons, \(report.mismatches.count) mismatches, "
              + "\(String(format: "%.1f", Date().timeIntervalSince(started))) s")
        report.record()
    }
}

// MARK: - The oracles and the comparison

/// One libvirt release as `../shared/oracles/provision` installs it: its
/// virsh (wrapped to run with its own map) and its map folder.
struct Oracle: Sendable {
    let release: String

    static let v9_0 = Oracle(release: "9.0")
    static let v11_3 = Oracle(release: "11.3")
    static let v12_9 = Oracle(release: "12.9")
    static let all = [v9_0, v11_3, v12_9]

    /// Where the oracles are installed: `$CPUCOMPAT_ORACLES`, else provision's default.
    static var root: String {
        ProcessInfo.processInfo.environment["CPUCOMPAT_ORACLES"].flatMap { $0.isEmpty ? nil : $0 }
            ?? "/var/cache/cpucompat-oracles"
    }

    var virshPath: String { Self.root + "/bin/virsh-" + release }
    var mapPath: String { Self.root + "/" + release + "/cpu_map" }
    var isAvailable: Bool {
        FileManager.default.isExecutableFile(atPath: virshPath)
            && FileManager.default.fileExists(atPath: mapPath + "/index.xml")
    }
    var skipReason: Comment {
        Comment(rawValue: "libvirt \(release)'s oracle (\(virshPath) and \(mapPath)) is not installed: "
                + "the differential test against libvirt \(release) is SKIPPED (run ../shared/oracles/provision)")
    }

    static let connection = "test:///default"
    static var corpusFolder: String { TestPaths.corpus + "/libvirt-cputestdata" }
    static var corpusPresent: Bool { FileManager.default.fileExists(atPath: corpusFolder) }
    static var corpusSkipReason: Comment {
        Comment(rawValue: "the corpus folder \(corpusFolder) is absent: the corpus differential test is SKIPPED")
    }

    static let defaultSeed: UInt64 = 0x5EED_CB05_E11E_2024
    static var seed: UInt64 {
        guard let text = ProcessInfo.processInfo.environment["CPUCOMPAT_DIFF_SEED"] else { return defaultSeed }
        let digits = text.hasPrefix("0x") ? String(text.dropFirst(2)) : text
        return UInt64(digits, radix: text.hasPrefix("0x") ? 16 : 10) ?? defaultSeed
    }
    static var caseCount: Int {
        ProcessInfo.processInfo.environment["CPUCOMPAT_DIFF_CASES"].flatMap { Int($0) }.map { max(1, $0) } ?? 240
    }
    static func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }

    struct VirshRun {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs `virsh cpu-baseline file [--features]`.
    func virsh(file: String, expand: Bool) throws -> VirshRun {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: virshPath)
        process.arguments = ["-c", Self.connection, "cpu-baseline", file] + (expand ? ["--features"] : [])
        var environment = ProcessInfo.processInfo.environment
        environment["LC_ALL"] = "C"
        process.environment = environment
        let output = Pipe()
        let errors = Pipe()
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        // Outputs are a few kilobytes at most: read stdout to its end, then stderr.
        let out = output.fileHandleForReading.readDataToEndOfFile()
        let err = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return VirshRun(status: process.terminationStatus,
                        stdout: String(decoding: out, as: UTF8.self),
                        stderr: String(decoding: err, as: UTF8.self))
    }

    /// Why a baseline failed, in classes both tools' messages can be put in.
    enum FailureKind: String {
        case vendorMismatch = "vendor mismatch"
        case unknownFeature = "unknown feature"
        case unknownModel = "unknown model"
        case unknownVendor = "unknown vendor"
        case duplicateFeature = "duplicate feature"
        case missingModel = "missing model"
        case incompatible = "no common features"
        case other

        /// The class of virsh's error text.
        init(virshMessage text: String) {
            if text.contains("CPU vendors do not match") || (text.contains("CPU vendor") && text.contains("differs")) {
                self = .vendorMismatch
            } else if text.contains("Unknown CPU feature") {
                self = .unknownFeature
            } else if text.contains("Unknown CPU model") || text.contains("Cannot find CPU model") {
                self = .unknownModel
            } else if text.contains("Unknown CPU vendor") {
                self = .unknownVendor
            } else if text.contains("Missing CPU model name") {
                self = .missingModel
            } else if text.contains("more than once") {
                self = .duplicateFeature
            } else if text.contains("CPUs are incompatible") {
                self = .incompatible
            } else {
                self = .other
            }
        }

        /// The class of cpucompat's error.
        init(_ error: any Error) {
            guard let error = error as? CPUCompatError else { self = .other; return }
            switch error {
            case .unknownFeature: self = .unknownFeature
            case .unknownModel: self = .unknownModel
            case .unknownVendor: self = .unknownVendor
            case let .invalidCPU(_, _, message) where message.contains("more than once"): self = .duplicateFeature
            case let .invalidCPU(_, _, message) where message.contains("Missing CPU model name"): self = .missingModel
            case let .incompatible(message) where message.contains("vendor"): self = .vendorMismatch
            case .incompatible: self = .incompatible
            default: self = .other
            }
        }
    }

    enum Outcome {
        case success(String)
        case failure(FailureKind, String)
    }

    /// cpucompat's answer for the same text: what virsh would print, or the error.
    static func ours(xml: String, path: String, map: CPUMap, x86: CPUArchitecture, expand: Bool) -> Outcome {
        do {
            let definitions = try CPUDefinitionReader.read(Array(xml.utf8), path: path)
            let cpus = try definitions.map { try map.resolve($0) }
            let baseline = try x86.baseline(of: cpus, options: .init(expandFeatures: expand))
            return .success(baseline.libvirtXML + "\n")
        } catch {
            return .failure(FailureKind(error), "\(type(of: error)): \(error)")
        }
    }

    struct Comparison {
        var label: String
        var kind: String
        var expand: Bool
        var input: String
        var virsh: VirshRun
        var ours: Outcome

        var matches: Bool {
            switch ours {
            case let .success(text): virsh.status == 0 && virsh.stdout == text
            case let .failure(kind, _):
                virsh.status != 0 && kind != .other && kind == FailureKind(virshMessage: virsh.stderr)
            }
        }

        var bothFailed: Bool {
            if case .failure = ours { return virsh.status != 0 }
            return false
        }
    }

    func compare(file: String, xml: String, map: CPUMap, x86: CPUArchitecture, expand: Bool,
                 label: String, kind: String) throws -> Comparison {
        let run = try virsh(file: file, expand: expand)
        let path = (file as NSString).lastPathComponent
        return Comparison(label: label, kind: kind, expand: expand, input: xml, virsh: run,
                          ours: Self.ours(xml: xml, path: path, map: map, x86: x86, expand: expand))
    }
}

/// Collects mismatches and records them as bounded test issues.
private struct MismatchReport {
    var title: String
    var comparisons = 0
    var mismatches: [Oracle.Comparison] = []
    /// Comparisons where both tools failed for the same kind of reason.
    var failuresAgreed = 0
    static let detailed = 5
    static let blockLimit = 3000

    init(title: String) { self.title = title }

    mutating func add(_ comparison: Oracle.Comparison) {
        comparisons += 1
        guard !comparison.matches else {
            if comparison.bothFailed { failuresAgreed += 1 }
            return
        }
        mismatches.append(comparison)
        if let folder = ProcessInfo.processInfo.environment["CPUCOMPAT_DIFF_KEEP"], !folder.isEmpty {
            try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let stem = folder + "/" + String(comparison.label.map { $0.isLetter || $0.isNumber || "-_.".contains($0) ? $0 : "_" })
                + (comparison.expand ? ".features" : "")
            write(comparison.input, to: stem + ".input.xml")
            write(comparison.virsh.stdout, to: stem + ".virsh.out")
            write(comparison.virsh.stderr, to: stem + ".virsh.err")
            switch comparison.ours {
            case let .success(text): write(text, to: stem + ".ours.out")
                case let .failure(_, message): write(message + "\n", to: stem + ".ours.err")
            }
        }
    }

    func record() {
        guard !mismatches.isEmpty else { return }
        for comparison in mismatches.prefix(Self.detailed) {
            Issue.record(Comment(rawValue: Self.describe(comparison)))
        }
        var byKind: [String: Int] = [:]
        for comparison in mismatches {
            byKind[comparison.kind + (comparison.expand ? " --features" : ""), default: 0] += 1
        }
        let kinds = byKind.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
        let labels = mismatches.prefix(40).map { $0.label + ($0.expand ? " --features" : "") }
        Issue.record(Comment(rawValue: """
            \(title): \(mismatches.count) of \(comparisons) comparisons differ from virsh \
            (the first \(min(Self.detailed, mismatches.count)) are shown in detail).
            By kind: \(kinds)
            Mismatching: \(labels.joined(separator: "; "))\(mismatches.count > labels.count ? "; …" : "")
            """))
    }

    static func describe(_ comparison: Oracle.Comparison) -> String {
        let oursText: String
        switch comparison.ours {
        case let .success(text): oursText = "succeeded:\n" + bounded(text)
        case let .failure(kind, message): oursText = "failed (\(kind.rawValue)): " + bounded(message)
        }
        return """
            Mismatch: \(comparison.label)\(comparison.expand ? " with --features" : "")
            \(firstDifference(comparison))
            --- input:
            \(bounded(comparison.input))
            --- virsh (exit \(comparison.virsh.status)) stdout:
            \(bounded(comparison.virsh.stdout))
            --- virsh stderr:
            \(bounded(comparison.virsh.stderr))
            --- cpucompat \(oursText)
            """
    }

    /// Where the two outputs first part, when both sides succeeded.
    static func firstDifference(_ comparison: Oracle.Comparison) -> String {
        guard case let .success(ours) = comparison.ours, comparison.virsh.status == 0 else {
            if case let .failure(kind, _) = comparison.ours {
                return comparison.virsh.status == 0
                    ? "virsh succeeded, cpucompat failed"
                    : "both failed, for different reasons: virsh \(Oracle.FailureKind(virshMessage: comparison.virsh.stderr).rawValue), cpucompat \(kind.rawValue)"
            }
            return "virsh failed (exit \(comparison.virsh.status)), cpucompat succeeded"
        }
        let theirs = comparison.virsh.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        let mine = ours.split(separator: "\n", omittingEmptySubsequences: false)
        let index = zip(theirs, mine).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(theirs.count, mine.count)
        let line = { (lines: [Substring]) in index < lines.count ? "`\(lines[index])`" : "(end)" }
        return "first difference at output line \(index + 1): virsh \(line(theirs)), cpucompat \(line(mine))"
    }

    static func bounded(_ text: String) -> String {
        text.count <= blockLimit ? text : String(text.prefix(blockLimit)) + "\n… (\(text.count - blockLimit) more characters)"
    }
}

// MARK: - Seeded generation of host CPUs

/// SplitMix64: small, fast, and the same on every platform and Swift version
/// (unlike the standard library's `random(in:using:)` helpers).
private struct DiffSplitMix64 {
    private var generator: SplitMix64

    init(seed: UInt64) { generator = SplitMix64(seed: seed) }

    mutating func next() -> UInt64 { generator.next() }

    /// A number in `0..<bound`.
    mutating func below(_ bound: Int) -> Int {
        precondition(bound > 0)
        return Int(next() % UInt64(bound))
    }

    /// True with probability `probability`.
    mutating func chance(_ probability: Double) -> Bool {
        Double(next() >> 11) / Double(UInt64(1) << 53) < probability
    }

    mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }

    /// An index into `weights`, chosen with probability proportional to its weight.
    mutating func weighted(_ weights: [Int]) -> Int {
        var roll = below(weights.reduce(0, +))
        for (index, weight) in weights.enumerated() {
            if roll < weight { return index }
            roll -= weight
        }
        return weights.count - 1
    }

    mutating func shuffle<T>(_ items: inout [T]) {
        guard items.count > 1 else { return }
        for index in stride(from: items.count - 1, to: 0, by: -1) {
            items.swapAt(index, below(index + 1))
        }
    }
}

private enum CaseKind: String, CaseIterable, Hashable {
    /// Hosts of one vendor, each of its own generation.
    case mixed
    /// Hosts that all name the same model (libvirt's fallback='forbid' path).
    case sameModel = "same-model"
    /// Like `mixed`, but some hosts have no `<vendor>`.
    case missingVendor = "missing-vendor"
    /// At least one host named by a vendorless generic model (qemu64, kvm64, …).
    case generic
    /// Guest-style `<cpu mode='custom' match='exact'>` with `require` features.
    case guestStyle = "guest-style"
    /// Intel with AMD (or Hygon): must fail.
    case vendorMix = "vendor-mix"
    /// A feature name the 9.0 map does not define: must fail.
    case unknownFeature = "unknown-feature"
    /// A model name the 9.0 map does not define: must fail.
    case unknownModel = "unknown-model"
    /// A feature written by one of its aliases (sse4_1, pclmulqdq, tsc-adjust).
    case alias
    /// CPUs without `<model>` whose feature lists are disjoint (no common feature).
    case modelless
    /// Hosts of two vendor lines where some omit `<vendor>` (their model's
    /// vendor may still clash), or name a vendor their model does not have.
    case vendorFromModel = "vendor-from-model"
    /// A host listing the same feature twice.
    case duplicateFeature = "duplicate-feature"
    /// Hosts named by versioned models (`Haswell-v4`), as libvirt 10 on
    /// decodes them; like `mixed` with a map that has none.
    case versioned
}

private struct GeneratedCase {
    var kind: CaseKind
    /// What cpucompat reads.
    var xml: String
    /// What virsh reads, where it differs: the same CPUs in the only form libvirt 9.0 accepts.
    var oracleXML: String?
}

/// Makes realistic host CPUs from the installed map, the way `virsh
/// capabilities` describes them: a model, a vendor, and the features beyond
/// the model.
private struct CaseGenerator {
    struct HostCPU {
        var model: String?
        var vendor: String?
        var features: [String]
        var guestStyle = false
    }

    struct Line {
        var vendor: String
        /// The vendor's models, in map order (older first).
        var models: [CPUModel]
        /// The current server and client models, which most hosts are.
        var modern: [CPUModel]
        /// The vendor's older models.
        var older: [CPUModel]
        /// Models whose features a host of this line may have beyond its model.
        var donors: [CPUModel]
        /// Features real hosts of this vendor list that no model has.
        var hostExtras: [String]
    }

    let x86: CPUArchitecture
    let lines: [Line]
    let generic: [CPUModel]
    let aliased: [CPUFeature]
    let unknownFeatures: [String]
    let unknownModels: [String]

    static let modernNames: [String: [String]] = [
        "Intel": ["Nehalem", "Nehalem-IBRS", "Westmere", "Westmere-IBRS", "SandyBridge", "SandyBridge-IBRS",
                  "IvyBridge", "IvyBridge-IBRS", "Haswell-noTSX", "Haswell-noTSX-IBRS", "Haswell", "Haswell-IBRS",
                  "Broadwell-noTSX", "Broadwell-noTSX-IBRS", "Broadwell", "Broadwell-IBRS",
                  "Skylake-Client", "Skylake-Client-IBRS", "Skylake-Client-noTSX-IBRS",
                  "Skylake-Server", "Skylake-Server-IBRS", "Skylake-Server-noTSX-IBRS",
                  "Cascadelake-Server", "Cascadelake-Server-noTSX", "Icelake-Client", "Icelake-Client-noTSX",
                  "Icelake-Server", "Icelake-Server-noTSX", "Cooperlake", "Snowridge",
                  "SapphireRapids", "GraniteRapids", "SierraForest", "ClearwaterForest", "DiamondRapids"],
        "AMD": ["Opteron_G3", "Opteron_G4", "Opteron_G5", "EPYC", "EPYC-IBPB", "EPYC-Rome", "EPYC-Milan",
                "EPYC-Genoa", "EPYC-Turin"],
        "Hygon": ["Dhyana"],
        "Zhaoxin": ["YongFeng"],
    ]

    /// `Haswell-v4` → `Haswell`: versioned models count as their family's.
    static func baseName(_ name: String) -> String {
        guard let dash = name.lastIndex(of: "-"), name[name.index(after: dash)...].first == "v",
              Int(name[name.index(dash, offsetBy: 2)...]) != nil else { return name }
        return String(name[..<dash])
    }

    static let hostExtraNames: [String: [String]] = [
        "Intel": ["vme", "ds", "acpi", "ss", "ht", "tm", "pbe", "dtes64", "monitor", "ds_cpl", "vmx", "smx",
                  "est", "tm2", "xtpr", "pdcm", "dca", "osxsave", "tsc_adjust", "arat", "xsaveopt", "invtsc",
                  "pdpe1gb", "umip", "md-clear", "stibp", "ssbd", "arch-capabilities", "ibrs-all",
                  "skip-l1dfl-vmentry", "mds-no", "pschange-mc-no", "tsx-ctrl", "xsaves", "xsavec", "xgetbv1",
                  "invpcid", "rdctl-no", "cmt", "mbm_total", "mbm_local", "pku", "ospke",
                  // VMX capabilities, which libvirt 10.2 on lists in models with added='yes'.
                  "vmx-activity-hlt", "vmx-apicv-xapic", "vmx-apicv-x2apic", "vmx-ept", "vmx-unrestricted-guest",
                  "vmx-exit-load-efer", "vmx-entry-load-efer", "vmx-invvpid", "vmx-page-walk-4", "vmx-tsc-offset",
                  "vmx-vpid", "vmx-xsaves", "vmx-posted-intr", "vmx-ept-execonly"],
        "AMD": ["vme", "ht", "monitor", "osxsave", "svm", "mmxext", "fxsr_opt", "cmp_legacy", "extapic",
                "cr8legacy", "osvw", "ibs", "skinit", "wdt", "lwp", "tce", "nodeid_msr", "topoext",
                "perfctr_core", "perfctr_nb", "invtsc", "arat", "xsaveopt", "npt", "nrip-save", "ssbd", "ibpb",
                "virt-ssbd", "amd-ssbd", "xsaves", "tsc_adjust", "pdpe1gb", "cmp_legacy"],
    ]

    init(x86: CPUArchitecture) throws {
        self.x86 = x86
        let canonical = Set(x86.features.map(\.name))
        var lines: [Line] = []
        for vendor in ["Intel", "AMD", "Hygon", "Zhaoxin"] where x86.vendor(named: vendor) != nil {
            let models = x86.models.filter { $0.vendor == vendor }
            guard !models.isEmpty else { continue }
            let modernNames = Set(Self.modernNames[vendor] ?? [])
            let modern = models.filter { modernNames.contains(Self.baseName($0.name)) }
            let older = models.filter { !modernNames.contains(Self.baseName($0.name)) }
            // Hygon's Dhyana is a Zen core: its hosts share features with AMD's EPYC models.
            let donors = vendor == "Hygon"
                ? models + x86.models.filter { $0.vendor == "AMD" && $0.name.hasPrefix("EPYC") }
                : models
            let extras = (Self.hostExtraNames[vendor == "Hygon" ? "AMD" : vendor == "Zhaoxin" ? "Intel" : vendor] ?? [])
                .filter(canonical.contains)
            lines.append(Line(vendor: vendor, models: models, modern: modern.isEmpty ? models : modern,
                              older: older, donors: donors, hostExtras: extras))
        }
        try #require(lines.count >= 2, "the map lacks Intel and AMD models")
        self.lines = lines
        generic = x86.models.filter { $0.vendor == nil }
        aliased = x86.features.filter { !$0.aliases.isEmpty }
        unknownFeatures = ["flush-l1d", "amx-tile", "avx-vnni", "fsrm", "serialize", "no-such-feature"]
            .filter { x86.feature(named: $0) == nil }
        unknownModels = ["SapphireRapids", "EPYC-Genoa", "Haswell-v4", "GraniteRapids", "No-Such-Model"]
            .filter { x86.model(named: $0) == nil }
    }

    func makeCase(seed: UInt64, number: Int) -> GeneratedCase {
        var random = DiffSplitMix64(seed: seed ^ (UInt64(number) &* 0xD1B5_4A32_D192_ED03))
        _ = random.next()
        let kinds: [(CaseKind, Int)] = [
            (.mixed, 40), (.sameModel, 18), (.missingVendor, 10), (.generic, 7), (.guestStyle, 4),
            (.vendorMix, 6), (.unknownFeature, 4), (.unknownModel, 3), (.alias, 5), (.modelless, 3),
            (.vendorFromModel, 5), (.duplicateFeature, 2), (.versioned, 12),
        ]
        let kind = kinds[random.weighted(kinds.map(\.1))].0
        var cpus: [HostCPU]
        let intelAndAMD = lines.filter { $0.vendor != "Hygon" }
        let line = lines[random.weighted(lines.map { $0.vendor == "Intel" ? 55 : $0.vendor == "AMD" ? 35 : 6 })]

        switch kind {
        case .mixed, .guestStyle, .unknownFeature, .unknownModel, .alias, .duplicateFeature:
            let count = hostCount(&random, minimum: 1)
            cpus = (0..<count).map { _ in host(line: line, model: pickModel(line: line, &random), &random) }
        case .versioned:
            let versions = line.models.filter { Self.baseName($0.name) != $0.name }
            let count = hostCount(&random, minimum: 1)
            cpus = (0..<count).map { _ in
                let model = versions.isEmpty || random.chance(0.2) ? pickModel(line: line, &random) : random.pick(versions)
                return host(line: line, model: model, &random)
            }
        case .sameModel:
            let model = pickModel(line: line, &random)
            cpus = (0..<hostCount(&random, minimum: 2)).map { _ in host(line: line, model: model, &random) }
        case .missingVendor:
            let count = hostCount(&random, minimum: 1)
            let sameModel = random.chance(0.3) ? pickModel(line: line, &random) : nil
            cpus = (0..<count).map { _ in
                var cpu = host(line: line, model: sameModel ?? pickModel(line: line, &random), &random)
                if random.chance(0.5) { cpu.vendor = nil }
                return cpu
            }
            if cpus.allSatisfy({ $0.vendor != nil }) { cpus[random.below(cpus.count)].vendor = nil }
        case .generic:
            let count = hostCount(&random, minimum: 1)
            cpus = (0..<count).map { _ in
                let model = random.chance(0.6) ? random.pick(generic) : pickModel(line: line, &random)
                return host(line: line, model: model, &random)
            }
            if !cpus.contains(where: { name in generic.contains { $0.name == name.model } }) {
                cpus[random.below(cpus.count)] = host(line: line, model: random.pick(generic), &random)
            }
        case .vendorMix:
            let count = hostCount(&random, minimum: 2)
            let first = intelAndAMD[0], second = intelAndAMD[1]
            cpus = (0..<count).map { index in
                let chosen = index == 0 ? first : index == 1 ? second : random.pick(lines)
                return host(line: chosen, model: pickModel(line: chosen, &random), &random)
            }
            random.shuffle(&cpus)
        case .vendorFromModel:
            let count = hostCount(&random, minimum: 2)
            let other = random.pick(lines.filter { $0.vendor != "Intel" })
            let intel = lines.first { $0.vendor == "Intel" } ?? lines[0]
            cpus = (0..<count).map { index in
                let chosen = index == 0 ? other : index == 1 ? intel : (random.chance(0.5) ? other : intel)
                var cpu = host(line: chosen, model: random.pick(chosen.modern), &random)
                if random.chance(0.5) { cpu.vendor = nil }
                return cpu
            }
            random.shuffle(&cpus)
            if cpus.allSatisfy({ $0.vendor != nil }) { cpus[random.below(cpus.count)].vendor = nil }
            if random.chance(0.3) {
                // A host that names a vendor its model does not have.
                let index = random.below(cpus.count)
                cpus[index].vendor = cpus[index].vendor == intel.vendor || (cpus[index].vendor == nil && random.chance(0.5))
                    ? other.vendor : intel.vendor
            }
        case .modelless:
            // No <model>: disjoint feature lists, so the CPUs share nothing.
            var pool = x86.features.map(\.name)
            random.shuffle(&pool)
            let count = 2 + random.below(2)
            let size = 3 + random.below(5)
            cpus = (0..<count).map { index in
                HostCPU(model: nil, vendor: line.vendor,
                        features: Array(pool[(index * size)..<((index + 1) * size)]).sorted(by: mapOrder))
            }
        }

        // Aliases and guest-style CPUs are cpucompat's deliberate extensions
        // (libvirt 9.0 refuses both): virsh gets the same CPUs in the form it
        // reads, canonical names and host style, and the outputs must agree.
        switch kind {
        case .guestStyle:
            for index in cpus.indices { cpus[index].guestStyle = true }
        case .unknownFeature:
            let index = random.below(cpus.count)
            cpus[index].features.insert(random.pick(unknownFeatures), at: random.below(cpus[index].features.count + 1))
        case .unknownModel:
            cpus[random.below(cpus.count)].model = random.pick(unknownModels)
        case .duplicateFeature:
            let index = random.below(cpus.count)
            let name = cpus[index].features.isEmpty ? random.pick(line.hostExtras) : random.pick(cpus[index].features)
            if !cpus[index].features.contains(name) { cpus[index].features.append(name) }
            cpus[index].features.insert(name, at: random.below(cpus[index].features.count + 1))
        case .alias:
            let index = random.below(cpus.count)
            let feature = random.pick(aliased)
            let alias = random.pick(feature.aliases).name
            cpus[index].features.removeAll { $0 == feature.name }
            cpus[index].features.insert(alias, at: random.below(cpus[index].features.count + 1))
        default:
            break
        }

        var xml = ""
        for cpu in cpus { xml += render(cpu) }
        var oracleXML: String?
        if kind == .alias || kind == .guestStyle {
            oracleXML = cpus.map { cpu in
                var hostStyle = cpu
                hostStyle.guestStyle = false
                hostStyle.features = cpu.features.map { x86.feature(named: $0)?.name ?? $0 }
                return render(hostStyle)
            }.joined()
        }
        return GeneratedCase(kind: kind, xml: xml, oracleXML: oracleXML)
    }

    /// 1 to 6 hosts (at least `minimum`), mostly 2 to 4.
    private func hostCount(_ random: inout DiffSplitMix64, minimum: Int) -> Int {
        let counts = [1, 2, 3, 4, 5, 6]
        let weights = [12, 30, 24, 16, 10, 8]
        return max(minimum, counts[random.weighted(weights)])
    }

    /// A model of `line`: usually a current one, sometimes an older one or a generic QEMU model.
    private func pickModel(line: Line, _ random: inout DiffSplitMix64) -> CPUModel {
        switch random.weighted([80, line.older.isEmpty ? 0 : 12, generic.isEmpty ? 0 : 8]) {
        case 0: random.pick(line.modern)
        case 1: random.pick(line.older)
        default: random.pick(generic)
        }
    }

    /// A host of `line` decoded as `model`: some features of the line's newer
    /// models it lacks, and some host-only features.
    private func host(line: Line, model: CPUModel, _ random: inout DiffSplitMix64) -> HostCPU {
        var extra = FeatureSet()
        let position = line.donors.firstIndex { $0.name == model.name }
        let newer: [CPUModel]
        if let position {
            newer = Array(line.donors[(position + 1)...])
        } else {
            // A generic model: the host is really some current CPU of the line.
            let real = random.pick(line.modern)
            extra.formUnion(real.features.subtracting(model.features))
            newer = line.donors.filter { $0.index > real.index }
        }
        var candidates = FeatureSet()
        for donor in newer { candidates.formUnion(donor.features) }
        candidates.subtract(model.features)
        let newerProbability = random.pick([0.0, 0.1, 0.3, 0.6, 0.9])
        for index in candidates where random.chance(newerProbability) { extra.insert(index) }
        let extrasProbability = random.pick([0.2, 0.5, 0.8, 1.0])
        for name in line.hostExtras where random.chance(extrasProbability) {
            if let feature = x86.feature(named: name) { extra.insert(feature.index) }
        }
        extra.subtract(model.features)
        var names = x86.names(of: extra)
        if random.chance(0.2) { random.shuffle(&names) }
        return HostCPU(model: model.name, vendor: line.vendor, features: names)
    }

    private func mapOrder(_ lhs: String, _ rhs: String) -> Bool {
        (x86.feature(named: lhs)?.index ?? 0) < (x86.feature(named: rhs)?.index ?? 0)
    }

    private func render(_ cpu: HostCPU) -> String {
        var xml: String
        if cpu.guestStyle {
            xml = "<cpu mode='custom' match='exact'>\n"
            if let model = cpu.model { xml += "  <model fallback='allow'>\(model)</model>\n" }
            if let vendor = cpu.vendor { xml += "  <vendor>\(vendor)</vendor>\n" }
            for name in cpu.features { xml += "  <feature policy='require' name='\(name)'/>\n" }
        } else {
            xml = "<cpu>\n  <arch>x86_64</arch>\n"
            if let model = cpu.model { xml += "  <model>\(model)</model>\n" }
            if let vendor = cpu.vendor { xml += "  <vendor>\(vendor)</vendor>\n" }
            for name in cpu.features { xml += "  <feature name='\(name)'/>\n" }
        }
        return xml + "</cpu>\n"
    }
}

// MARK: - The default built-in map on real hosts

/// With no libvirt installed, cpucompat uses its newest built-in map: it must
/// read every real host of libvirt's test data, and its baseline of each
/// vendor's hosts must be libvirt 12.9's.
@Suite("The default built-in map on the corpus hosts")
struct BuiltInMapCorpusTests {
    @Test(.enabled(if: Oracle.corpusPresent, Oracle.corpusSkipReason))
    func readsEveryCorpusHost() throws {
        let map = try CPUMap.builtIn()
        let names = try FileManager.default.contentsOfDirectory(atPath: Oracle.corpusFolder)
            .filter { $0.hasPrefix("x86_64-cpuid-") && $0.hasSuffix("-host.xml") }
        #expect(names.count == 71)
        for name in names {
            #expect(throws: Never.self, "\(name)") { try map.readSingleCPU(contentsOf: Oracle.corpusFolder + "/" + name) }
        }
    }

    @Test(.enabled(if: Oracle.corpusPresent, Oracle.corpusSkipReason),
          .enabled(if: Oracle.v12_9.isAvailable, Oracle.v12_9.skipReason))
    func baselineOfEachVendorsHostsIsLibvirt12_9s() throws {
        let map = try CPUMap.builtIn()
        let x86 = try #require(map.x86)
        let names = try FileManager.default.contentsOfDirectory(atPath: Oracle.corpusFolder)
            .filter { $0.hasPrefix("x86_64-cpuid-") && $0.hasSuffix("-host.xml") }.sorted()
        var byVendor: [String: String] = [:]
        var all = ""
        for name in names {
            var xml = try String(contentsOfFile: Oracle.corpusFolder + "/" + name, encoding: .utf8)
            if !xml.hasSuffix("\n") { xml += "\n" }
            let vendor = try #require(try CPUDefinitionReader.read(Array(xml.utf8), path: name).first?.vendor)
            byVendor[vendor, default: ""] += xml
            all += xml
        }
        let scratch = makeScratchDirectory()
        defer { removeTree(scratch) }
        var report = MismatchReport(title: "built-in map, corpus hosts by vendor")
        for (label, xml) in byVendor.sorted(by: { $0.key < $1.key }) + [("every vendor", all)] {
            let file = scratch + "/\(label.replacingAll(" ", with: "-")).xml"
            write(xml, to: file)
            for expand in [false, true] {
                report.add(try Oracle.v12_9.compare(file: file, xml: xml, map: map, x86: x86, expand: expand,
                                                    label: "built-in map: \(label)", kind: "corpus by vendor"))
            }
        }
        #expect(report.comparisons == 2 * (byVendor.count + 1))
        print("built-in map against libvirt 12.9: \(byVendor.count) vendors' hosts and all 71 together, "
              + "\(report.comparisons) comparisons, \(report.mismatches.count) mismatches, \(report.failuresAgreed) agreed failures")
        report.record()
    }
}
