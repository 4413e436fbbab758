import Foundation
import Testing

// End-to-end tests of `cpucompat patch` and `cpucompat compare` through the
// built binary. Expected values come from the README's story (kvm02 and
// kvm03 differ by nine features; their baseline is IvyBridge-IBRS), from the
// help text of the commands, and from libvirt: every fixture and every result
// must pass libvirt 9.0's `virt-xml-validate FILE domain`.

/// All end-to-end tests of patch and compare, so `swift test --filter Patch` runs them.
@Suite struct PatchCommandTests {}

// MARK: - Helpers

extension PatchCommandTests {
    static let validator = "/usr/bin/virt-xml-validate"
    static let validatorInstalled = FileManager.default.isExecutableFile(atPath: validator)
    static let patchToolInstalled = FileManager.default.isExecutableFile(atPath: "/usr/bin/patch")

    static let storyHosts = ["--host", "Fixtures/kvm02.xml", "--host", "Fixtures/kvm03.xml"]

    /// The nine features kvm02 has and kvm03 lacks, in libvirt's order.
    static let storyMissing = ["vmx", "fma", "movbe", "bmi1", "avx2", "bmi2", "invpcid", "pdpe1gb", "abm"]

    /// What `--strategy model` requires for the story: the README's baseline
    /// `require` list less host-only bits and invtsc.
    static let storyModelRequire = ["ss", "pdcm", "pcid", "arat", "md-clear", "stibp", "ssbd", "xsaveopt"]

    /// Features the patch never requires (host-only CPUID bits, migratable='no').
    static let neverRequired = ["ds", "acpi", "ht", "tm", "pbe", "dtes64", "monitor", "ds_cpl", "smx", "est", "tm2",
                                "xtpr", "osxsave", "invtsc"]

    /// The hand-written domains under Fixtures/domains.
    enum Domain: String, CaseIterable, Sendable {
        case custom = "web01-custom-numa.xml"
        case noCPU = "legacy02-nocpu.xml"
        case noCPUNoFeatures = "appliance03-nocpu-nofeatures.xml"
        case passthrough = "build04-passthrough.xml"
        case doubleQuotesTabs = "db05-double-quotes-tabs.xml"
        case crlf = "win06-crlf-host-model.xml"

        /// Relative to the package root, where the CLI runs.
        var path: String { "Fixtures/domains/" + rawValue }
        var absolutePath: String { CLI.fixture("domains/" + rawValue) }
        var bytes: [UInt8] { Array(FileManager.default.contents(atPath: absolutePath) ?? Data()) }
    }

    /// A scratch folder, removed by `remove()`.
    struct Scratch {
        let folder: String = {
            let path = NSTemporaryDirectory() + "cpucompat-patch-" + UUID().uuidString
            try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            return path
        }()

        func path(_ name: String) -> String { folder + "/" + name }

        @discardableResult
        func file(_ name: String, _ bytes: [UInt8]) -> String {
            let path = path(name)
            FileManager.default.createFile(atPath: path, contents: Data(bytes))
            return path
        }

        @discardableResult
        func file(_ name: String, _ text: String) -> String { file(name, Array(text.utf8)) }

        /// The folder's entries, sorted; hidden temporary files included.
        var entries: [String] { ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted() }

        func remove() { try? FileManager.default.removeItem(atPath: folder) }
    }

    static func contents(_ path: String) -> [UInt8]? {
        FileManager.default.contents(atPath: path).map(Array.init)
    }

    static func mode(_ path: String) -> Int? {
        (try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue
    }

    /// Runs `cpucompat patch ARGUMENTS` and returns the result.
    static func patch(_ arguments: [String], input: String? = nil) throws -> RunResult {
        try CLI.run(["patch"] + arguments, input: input)
    }

    /// The patched document `cpucompat patch` prints for `domain`.
    static func patched(_ domain: String, _ strategy: String = "model", hosts: [String] = storyHosts) throws -> String {
        let result = try patch(["--strategy", strategy] + hosts + [domain])
        #expect(result.status == 0, "patch \(domain): \(result.stderr)")
        return result.stdout
    }

    /// Runs libvirt's validator on a document; nil when it validates, else its complaint.
    static func schemaProblems(_ document: [UInt8], scratch: Scratch, name: String = "candidate.xml") throws -> String? {
        let file = scratch.file(name, document)
        let result = try CLI.runProgram(validator, [file, "domain"])
        return result.status == 0 ? nil : result.stdout + result.stderr
    }

    /// The offset of `needle` in `haystack` at or after `from`.
    static func find(_ needle: String, in haystack: [UInt8], from: Int = 0) -> Int? {
        let pattern = Array(needle.utf8)
        guard haystack.count >= pattern.count, from <= haystack.count - pattern.count else { return nil }
        return (from...(haystack.count - pattern.count)).first {
            haystack[$0..<($0 + pattern.count)].elementsEqual(pattern)
        }
    }

    /// The bytes of the domain's `<cpu …>` element by plain search: right for
    /// the fixtures, where `<cpu ` occurs once and no attribute value holds `>`.
    static func cpuElement(in bytes: [UInt8]) -> Range<Int>? {
        guard let start = find("<cpu ", in: bytes), let close = bytes[start...].firstIndex(of: UInt8(ascii: ">")) else { return nil }
        if bytes[close - 1] == UInt8(ascii: "/") { return start..<(close + 1) }
        guard let end = find("</cpu>", in: bytes, from: close) else { return nil }
        return start..<(end + 6)
    }

    /// The 1-based numbers of the first and last line of the `<cpu>` element.
    static func cpuLineNumbers(in bytes: [UInt8]) -> ClosedRange<Int>? {
        guard let range = cpuElement(in: bytes) else { return nil }
        let line = { (offset: Int) in bytes[..<offset].filter { $0 == UInt8(ascii: "\n") }.count + 1 }
        return line(range.lowerBound)...line(range.upperBound - 1)
    }

    /// The lines of the printed `<cpu>` element, indentation included.
    static func cpuLines(_ document: String) throws -> [String] {
        let bytes = Array(document.utf8)
        let range = try #require(cpuElement(in: bytes))
        let lineStart = bytes[..<range.lowerBound].lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0
        return String(decoding: bytes[lineStart..<range.upperBound], as: UTF8.self).components(separatedBy: "\n")
    }

    /// The old and new line numbers of the lines a unified diff removes and adds.
    static func changedLines(_ diff: String) -> (removed: [Int], added: [Int]) {
        var removed: [Int] = [], added: [Int] = []
        var old = 0, new = 0
        for line in diff.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("---") || line.hasPrefix("+++") { continue }
            if line.hasPrefix("@@") {
                // @@ -a[,b] +c[,d] @@
                let fields = line.split(separator: " ")
                old = Int(fields[1].dropFirst().split(separator: ",")[0]) ?? 0
                new = Int(fields[2].dropFirst().split(separator: ",")[0]) ?? 0
                // A count of zero names the line before the hunk.
                if fields[1].hasSuffix(",0") { old += 1 }
                if fields[2].hasSuffix(",0") { new += 1 }
            } else if line.hasPrefix("-") {
                removed.append(old); old += 1
            } else if line.hasPrefix("+") {
                added.append(new); new += 1
            } else if line.hasPrefix(" ") {
                old += 1; new += 1
            }
        }
        return (removed, added)
    }
}

// MARK: - The story

extension PatchCommandTests {
    @Suite struct Story {
        @Test func disableStrategyDisablesTheNineFeaturesOfKvm02ThatKvm03Lacks() throws {
            let result = try patch(["--strategy", "disable"] + storyHosts + ["Fixtures/guest01.xml"])
            #expect(result.status == 0)
            let expected = ["  <cpu mode='host-model' check='partial'>"]
                + storyMissing.map { "    <feature policy='disable' name='\($0)'/>" }
                + ["  </cpu>"]
            #expect(try cpuLines(result.stdout) == expected)
        }

        @Test func modelStrategyWritesIvyBridgeIBRSWithFallbackForbid() throws {
            let result = try patch(storyHosts + ["Fixtures/guest01.xml"])
            #expect(result.status == 0)
            let expected = ["  <cpu mode='custom' match='exact' check='partial'>",
                            "    <model fallback='forbid'>IvyBridge-IBRS</model>",
                            "    <vendor>Intel</vendor>"]
                + storyModelRequire.map { "    <feature policy='require' name='\($0)'/>" }
                + ["  </cpu>"]
            #expect(try cpuLines(result.stdout) == expected)
            let notes = result.stderr.split(separator: "\n")
            #expect(!notes.isEmpty && notes.allSatisfy { $0.hasPrefix("cpucompat: note: ") })
            for name in neverRequired {
                #expect(!result.stdout.contains("name='\(name)'"), "\(name) is never required")
                let listed = notes.contains { note in
                    note.split(whereSeparator: { ", :".contains($0) }).contains { $0 == name }
                }
                #expect(listed, "a note on standard error says \(name) was left out")
            }
        }

        @Test func domainCapabilitiesHostsGiveTheSameResultWithoutNotes() throws {
            let fromCapabilities = try patched("Fixtures/guest01.xml")
            let result = try patch(["--host", "Fixtures/kvm02-domcaps.xml", "--host", "Fixtures/kvm03-domcaps.xml",
                                    "Fixtures/guest01.xml"])
            #expect(result.status == 0)
            #expect(result.stdout == fromCapabilities)
            #expect(result.stderr == "")
        }

        @Test func aBaselineFileGivesTheModelResult() throws {
            let scratch = Scratch()
            defer { scratch.remove() }
            let baseline = try CLI.run(["baseline", "Fixtures/kvm02.xml", "Fixtures/kvm03.xml"])
            #expect(baseline.status == 0)
            let file = scratch.file("baseline.xml", baseline.stdout)
            let result = try patch(["--baseline", file, "Fixtures/guest01.xml"])
            #expect(result.status == 0)
            let expected = try patched("Fixtures/guest01.xml")
            #expect(result.stdout == expected)
        }
    }
}

// MARK: - Every fixture, both strategies

extension PatchCommandTests {
    @Suite struct EveryFixture {
        @Test(.enabled(if: PatchCommandTests.validatorInstalled,
                       "virt-xml-validate (libvirt-clients) is not installed: schema checks SKIPPED"),
              arguments: Domain.allCases)
        func fixturesAreValidLibvirtDomains(domain: Domain) throws {
            let result = try CLI.runProgram(validator, [domain.absolutePath, "domain"])
            #expect(result.status == 0, "\(domain.rawValue): \(result.stdout)\(result.stderr)")
        }

        @Test(.enabled(if: PatchCommandTests.validatorInstalled,
                       "virt-xml-validate (libvirt-clients) is not installed: schema checks SKIPPED"),
              arguments: Domain.allCases.map(Optional.some) + [nil], ["model", "disable"])
        func resultsAreValidLibvirtDomains(domain: Domain?, strategy: String) throws {
            let scratch = Scratch()
            defer { scratch.remove() }
            let output = try patched(domain?.path ?? "Fixtures/guest01.xml", strategy)
            #expect(try schemaProblems(Array(output.utf8), scratch: scratch) == nil)
        }

        @Test(arguments: Domain.allCases, ["model", "disable"])
        func onlyTheCPUElementChanges(domain: Domain, strategy: String) throws {
            let original = domain.bytes
            let output = Array(try patched(domain.path, strategy).utf8)
            let new = try #require(cpuElement(in: output))
            if let old = cpuElement(in: original) {
                #expect(original[..<old.lowerBound].elementsEqual(output[..<new.lowerBound]), "bytes before <cpu> kept")
                #expect(original[old.upperBound...].elementsEqual(output[new.upperBound...]), "bytes after </cpu> kept")
            } else {
                let lineBreak = try #require(output[..<new.lowerBound].lastIndex(of: UInt8(ascii: "\n")))
                #expect(Array(output[..<lineBreak]) + output[new.upperBound...] == original,
                        "the original is the result less the inserted line break and <cpu>")
            }
        }

        @Test(arguments: Domain.allCases, ["model", "disable"])
        func patchingTheResultAgainChangesNothing(domain: Domain, strategy: String) throws {
            let once = try patched(domain.path, strategy)
            let again = try patch(["--strategy", strategy] + storyHosts + ["-"], input: once)
            #expect(again.status == 0)
            #expect(Array(again.stdout.utf8) == Array(once.utf8))
        }

        @Test func doubleQuotesAndTabsAreFollowed() throws {
            let lines = try cpuLines(try patched(Domain.doubleQuotesTabs.path))
            #expect(lines.first == "\t<cpu mode=\"custom\" match=\"exact\" check=\"partial\">")
            #expect(lines.dropFirst().dropLast().allSatisfy { $0.hasPrefix("\t\t<") && !$0.contains("'") })
            #expect(lines.last == "\t</cpu>")
            #expect(lines.contains("\t\t<model fallback=\"forbid\">IvyBridge-IBRS</model>"))
        }

        @Test(arguments: ["model", "disable"])
        func crlfIsKept(strategy: String) throws {
            let output = Array(try patched(Domain.crlf.path, strategy).utf8)
            let lineFeeds = output.indices.filter { output[$0] == UInt8(ascii: "\n") }
            #expect(lineFeeds.count > Domain.crlf.bytes.filter { $0 == UInt8(ascii: "\n") }.count)
            #expect(lineFeeds.allSatisfy { output[$0 - 1] == UInt8(ascii: "\r") })
        }

        @Test func mergingExistingFeaturesIsExplainedOnStandardError() throws {
            let model = try patch(storyHosts + [Domain.custom.path])
            #expect(model.status == 0)
            let lines = try cpuLines(model.stdout)
            #expect(lines.contains("    <feature policy='require' name='pcid'/>"))
            #expect(!lines.contains { $0.contains("name='pcid'") && $0.contains("disable") })
            #expect(!lines.contains { $0.contains("name='vmx'") })
            #expect(lines.contains("    <feature policy='require' name='sse4_1'/>"))
            #expect(lines.contains("    <feature policy='disable' name='rdrand'/>"))
            #expect(lines.filter { $0.contains("name='ss'") }.count == 1)
            #expect(lines.contains("    <topology sockets='1' dies='1' cores='2' threads='2'/>"))
            #expect(lines.contains("    <cache level='3' mode='emulate'/>"))
            #expect(lines.contains("    <maxphysaddr mode='passthrough'/>"))
            #expect(Array(lines.suffix(5)) == ["    <numa>",
                                               "      <cell id='0' cpus='0-1' memory='2097152' unit='KiB'/>",
                                               "      <cell id='1' cpus='2-3' memory='2097152' unit='KiB'/>",
                                               "    </numa>",
                                               "  </cpu>"])
            let notes = model.stderr.split(separator: "\n")
            #expect(notes.contains { $0.contains("pcid") && $0.contains("disable") && $0.contains("require") })
            #expect(notes.contains { $0.contains("vmx") && $0.contains("dropped") })

            let disable = try patch(["--strategy", "disable"] + storyHosts + [Domain.custom.path])
            #expect(try cpuLines(disable.stdout).filter { $0.contains("name='vmx'") }
                    == ["    <feature policy='disable' name='vmx'/>"])
            #expect(disable.stderr.split(separator: "\n").contains { $0.contains("vmx") && $0.contains("require") })
        }

        @Test(arguments: ["model", "disable"])
        func hostPassthroughIsConvertedWithAWarning(strategy: String) throws {
            let result = try patch(["--strategy", strategy] + storyHosts + [Domain.passthrough.path])
            #expect(result.status == 0)
            let lines = try cpuLines(result.stdout)
            #expect(!lines[0].contains("migratable"))
            #expect(!lines[0].contains("host-passthrough"))
            #expect(result.stderr.split(separator: "\n").contains { $0.contains("host-passthrough") })
        }

        @Test func aCPUIsInsertedAfterFeaturesOrElseAfterOS() throws {
            let withFeatures = try patched(Domain.noCPU.path, "disable")
            #expect(withFeatures.contains("  </features>\n  <cpu mode='host-model' check='partial'>\n"))
            let withoutFeatures = try patched(Domain.noCPUNoFeatures.path, "disable")
            #expect(withoutFeatures.contains("  </os>\n  <cpu mode='host-model' check='partial'>\n"))
            #expect(withoutFeatures.contains("  </cpu>\n  <!-- no <features>"))
        }
    }
}

// MARK: - Writing: --in-place, --output, --diff, standard input

extension PatchCommandTests {
    @Suite struct Writing {
        @Test func inPlaceWritesTheResultKeepsTheModeAndTheBackup() throws {
            let scratch = Scratch()
            defer { scratch.remove() }
            let file = scratch.file("web01.xml", Domain.custom.bytes)
            try FileManager.default.setAttributes([.posixPermissions: 0o640], ofItemAtPath: file)
            let result = try patch(["--in-place", "--backup", ".orig"] + storyHosts + [file])
            #expect(result.status == 0)
            #expect(result.stdout == "")
            let expected = Array(try patched(Domain.custom.path).utf8)
            #expect(contents(file) == expected)
            #expect(mode(file) == 0o640)
            #expect(contents(file + ".orig") == Domain.custom.bytes)
            #expect(scratch.entries == ["web01.xml", "web01.xml.orig"])
        }

        enum Failure: String, CaseIterable, Sendable {
            case brokenDomain, malformedHost, unknownFeatureInHost, missingHost
        }

        @Test(arguments: Failure.allCases)
        func aFailingInPlacePatchLeavesTheFileAsItWas(failure: Failure) throws {
            let scratch = Scratch()
            defer { scratch.remove() }
            var domainBytes = Domain.custom.bytes
            if failure == .brokenDomain { domainBytes = Array(domainBytes.prefix(domainBytes.count / 2)) }
            let file = scratch.file("web01.xml", domainBytes)
            var hosts = ["--host", CLI.fixture("kvm02.xml")]
            let badHost: String
            switch failure {
            case .brokenDomain:
                badHost = "web01.xml"
            case .malformedHost:
                badHost = "kvm09.xml"
                hosts += ["--host", scratch.file(badHost, "<capabilities><host><cpu><model>Haswell</model></host>")]
            case .unknownFeatureInHost:
                badHost = "kvm09.xml"
                hosts += ["--host", scratch.file(badHost, """
                <cpu>
                  <arch>x86_64</arch>
                  <model>IvyBridge-IBRS</model>
                  <vendor>Intel</vendor>
                  <feature name='flush-l1d'/>
                </cpu>
                """)]
            case .missingHost:
                badHost = "kvm10.xml"
                hosts += ["--host", scratch.path(badHost)]
            }
            let before = scratch.entries
            let result = try patch(["--in-place", "--backup", ".orig"] + hosts + [file])
            #expect(result.status == 2)
            #expect(result.stdout == "")
            #expect(result.stderr.hasPrefix("cpucompat: "))
            #expect(result.stderr.contains(badHost))
            #expect(result.stderr.filter { $0 == "\n" }.count == 1, "one line: \(result.stderr)")
            #expect(contents(file) == domainBytes, "the domain is byte for byte as it was")
            #expect(scratch.entries == before, "no temporary file and no backup is left")
            #expect(!scratch.entries.contains { $0.contains(".cpucompat-") })
        }

        @Test func aSymbolicLinkIsRefusedWithoutFollowSymlinks() throws {
            let scratch = Scratch()
            defer { scratch.remove() }
            let target = scratch.file("web01.xml", Domain.custom.bytes)
            let link = scratch.path("current.xml")
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "web01.xml")

            let refused = try patch(["--in-place"] + storyHosts + [link])
            #expect(refused.status == 2)
            #expect(refused.stderr.hasPrefix("cpucompat: ") && refused.stderr.contains("current.xml"))
            #expect(refused.stderr.filter { $0 == "\n" }.count == 1)
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link) == "web01.xml")
            #expect(contents(target) == Domain.custom.bytes)
            #expect(scratch.entries == ["current.xml", "web01.xml"])

            let followed = try patch(["--in-place", "--follow-symlinks"] + storyHosts + [link])
            #expect(followed.status == 0)
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link) == "web01.xml", "still a link")
            let expected = Array(try patched(Domain.custom.path).utf8)
            #expect(contents(target) == expected)
            #expect(scratch.entries == ["current.xml", "web01.xml"])
        }

        @Test func inPlaceOnAPatchedFileChangesNothing() throws {
            let scratch = Scratch()
            defer { scratch.remove() }
            let file = scratch.file("legacy02.xml", Domain.noCPU.bytes)
            #expect(try patch(["--in-place"] + storyHosts + [file]).status == 0)
            let once = contents(file)
            #expect(try patch(["--in-place"] + storyHosts + [file]).status == 0)
            #expect(contents(file) == once)
            #expect(once != Domain.noCPU.bytes)
        }

        @Test func outputWritesTheResultToAFile() throws {
            let scratch = Scratch()
            defer { scratch.remove() }
            let output = scratch.path("guest01-patched.xml")
            let result = try patch(storyHosts + ["--output", output, "Fixtures/guest01.xml"])
            #expect(result.status == 0)
            #expect(result.stdout == "")
            let expected = Array(try patched("Fixtures/guest01.xml").utf8)
            #expect(contents(output) == expected)
            #expect(scratch.entries == ["guest01-patched.xml"])
        }

        @Test func standardInputIsADash() throws {
            let input = String(decoding: Domain.custom.bytes, as: UTF8.self)
            let result = try patch(storyHosts + ["-"], input: input)
            #expect(result.status == 0)
            let expected = try patched(Domain.custom.path)
            #expect(result.stdout == expected)
        }

        @Test(arguments: [Domain.custom, .noCPU, .passthrough, .doubleQuotesTabs])
        func theDiffChangesOnlyLinesOfTheCPUElement(domain: Domain) throws {
            let result = try patch(["--diff"] + storyHosts + [domain.path])
            #expect(result.status == 0)
            #expect(result.stdout.hasPrefix("--- \(domain.path)\n+++ \(domain.path)\n@@ "))
            let patchedBytes = Array(try patched(domain.path).utf8)
            let (removed, added) = changedLines(result.stdout)
            #expect(!added.isEmpty)
            let newCPU = try #require(cpuLineNumbers(in: patchedBytes))
            #expect(added.allSatisfy(newCPU.contains), "added lines \(added) outside the new <cpu> \(newCPU)")
            if let oldCPU = cpuLineNumbers(in: domain.bytes) {
                #expect(removed.allSatisfy(oldCPU.contains), "removed lines \(removed) outside the old <cpu> \(oldCPU)")
            } else {
                #expect(removed.isEmpty)
            }
        }

        @Test(.enabled(if: PatchCommandTests.patchToolInstalled, "/usr/bin/patch is not installed: applying the diff is SKIPPED"),
              arguments: [Domain.custom, .noCPU, .noCPUNoFeatures, .passthrough, .doubleQuotesTabs])
        func theDiffAppliesWithPatch(domain: Domain) throws {
            let scratch = Scratch()
            defer { scratch.remove() }
            let copy = scratch.file("domain.xml", domain.bytes)
            let diff = try patch(["--diff"] + storyHosts + [domain.path])
            let applied = try CLI.runProgram("/usr/bin/patch", ["--silent", copy], input: diff.stdout)
            #expect(applied.status == 0, "\(applied.stdout)\(applied.stderr)")
            let expected = Array(try patched(domain.path).utf8)
            #expect(contents(copy) == expected)
        }

        @Test func anUnchangedDomainHasAnEmptyDiff() throws {
            let scratch = Scratch()
            defer { scratch.remove() }
            let file = scratch.file("guest01.xml", try patched("Fixtures/guest01.xml"))
            let result = try patch(["--diff"] + storyHosts + [file])
            #expect(result.status == 0)
            #expect(result.stdout == "")
        }

        @Test(arguments: [
            ["--in-place", "-"],
            ["--backup", ".orig", "Fixtures/guest01.xml"],
            ["--in-place", "--output", "x.xml", "Fixtures/guest01.xml"],
        ])
        func contradictoryOptionsAreUsageErrors(arguments: [String]) throws {
            let result = try patch(storyHosts + arguments)
            #expect(result.status == 64)
            #expect(result.stdout == "")
        }

        @Test func noHostIsAUsageError() throws {
            #expect(try patch(["Fixtures/guest01.xml"]).status == 64)
        }
    }
}

// MARK: - Concurrent --in-place runs

extension PatchCommandTests {
    @Suite struct Concurrency {
        /// Starts cpucompat without waiting for it.
        private func start(_ arguments: [String]) throws -> Process {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: CLI.binary)
            process.arguments = arguments
            process.currentDirectoryURL = URL(fileURLWithPath: CLI.package)
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            process.standardInput = FileHandle.nullDevice
            try process.run()
            return process
        }

        @Test(arguments: ["model", "disable"])
        func runsStartedAtOnceEndWithOneCompleteResult(strategy: String) throws {
            let expected = Array(try patched(Domain.custom.path, strategy).utf8)
            for round in 1...5 {
                let scratch = Scratch()
                defer { scratch.remove() }
                let file = scratch.file("web01.xml", Domain.custom.bytes)
                let arguments = ["patch", "--in-place", "--strategy", strategy] + storyHosts + [file]
                let processes = try (1...4).map { _ in try start(arguments) }
                for process in processes { process.waitUntilExit() }
                #expect(processes.allSatisfy { $0.terminationStatus == 0 }, "round \(round)")
                #expect(contents(file) == expected, "round \(round): the file is one run's complete result")
                #expect(scratch.entries == ["web01.xml"], "round \(round): no temporary file is left")
                let check = try CLI.run(["compare", "--host", "Fixtures/kvm03.xml", "--started-on", "Fixtures/kvm03-domcaps.xml", file])
                #expect(check.status == 0, "round \(round): the result parses and runs on kvm03: \(check.stdout)\(check.stderr)")
            }
        }
    }
}

// MARK: - compare

extension PatchCommandTests {
    @Suite struct Compare {
        @Test(arguments: ["model", "disable"])
        func thePatchedStoryGuestRunsOnBothHosts(strategy: String) throws {
            let scratch = Scratch()
            defer { scratch.remove() }
            let guest = scratch.file("guest01.xml", try patched("Fixtures/guest01.xml", strategy))
            for host in ["Fixtures/kvm02.xml", "Fixtures/kvm03.xml"] {
                for startedOn in ["Fixtures/kvm02-domcaps.xml", "Fixtures/kvm03-domcaps.xml"] {
                    let result = try CLI.run(["compare", "--host", host, "--started-on", startedOn, guest])
                    #expect(result.status == 0, "\(strategy) on \(host), started on \(startedOn): \(result.stdout)")
                    #expect(result.stdout.hasPrefix("superset: ") || result.stdout.hasPrefix("identical: "))
                    #expect(result.stderr == "")
                }
            }
        }

        @Test func theStoryGuestStartedOnKvm02IsIncompatibleWithKvm03() throws {
            let result = try CLI.run(["compare", "--host", "Fixtures/kvm03.xml", "--started-on", "Fixtures/kvm02-domcaps.xml",
                                      "Fixtures/guest01.xml"])
            #expect(result.status == 1)
            let lines = result.stdout.split(separator: "\n").map(String.init)
            #expect(lines.first?.hasPrefix("incompatible") == true)
            #expect(lines.contains("guest CPU doesn't match specification: missing features: vmx,fma,movbe,bmi1,avx2,bmi2,invpcid,pdpe1gb,abm"))
            #expect(lines.contains { $0.contains("compared as") && $0.contains("host-model") && $0.contains("Fixtures/kvm02-domcaps.xml") },
                    "the output says what the guest was compared as")
        }

        @Test func jsonHasTheVerdictAndTheMissingFeatures() throws {
            let result = try CLI.run(["compare", "--format", "json", "--host", "Fixtures/kvm03.xml",
                                      "--started-on", "Fixtures/kvm02-domcaps.xml", "Fixtures/guest01.xml"])
            #expect(result.status == 1)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
            #expect(object["verdict"] as? String == "incompatible")
            #expect(object["missingFeatures"] as? [String] == storyMissing)
            #expect((object["comparedAs"] as? String)?.contains("Fixtures/kvm02-domcaps.xml") == true)
            #expect(object["message"] as? String
                    == "guest CPU doesn't match specification: missing features: vmx,fma,movbe,bmi1,avx2,bmi2,invpcid,pdpe1gb,abm")
        }

        @Test func aForbiddenFeatureTheHostHasIsAnExtraFeature() throws {
            let scratch = Scratch()
            defer { scratch.remove() }
            let guest = scratch.file("forbid.xml", """
            <domain type='kvm'>
              <name>forbid</name>
              <memory>1048576</memory>
              <os><type arch='x86_64'>hvm</type></os>
              <cpu mode='custom' match='exact' check='partial'>
                <model fallback='forbid'>IvyBridge-IBRS</model>
                <feature policy='forbid' name='pcid'/>
              </cpu>
            </domain>
            """)
            let result = try CLI.run(["compare", "--host", "Fixtures/kvm03.xml", guest])
            #expect(result.status == 1)
            #expect(result.stdout.split(separator: "\n").contains("guest CPU doesn't match specification: extra features: pcid"))
            let json = try CLI.run(["compare", "--format", "json", "--host", "Fixtures/kvm03.xml", guest])
            let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
            #expect(object["extraFeatures"] as? [String] == ["pcid"])
            #expect(object["verdict"] as? String == "incompatible")
        }

        @Test func theOriginalCustomFixtureNeedsKvm02() throws {
            let onKvm02 = try CLI.run(["compare", "--host", "Fixtures/kvm02.xml", Domain.custom.path])
            #expect(onKvm02.status == 0)
            let onKvm03 = try CLI.run(["compare", "--host", "Fixtures/kvm03.xml", Domain.custom.path])
            #expect(onKvm03.status == 1)
            // Haswell-noTSX-IBRS (which has neither abm nor pdpe1gb in libvirt's map) plus vmx, less pcid.
            #expect(onKvm03.stdout.contains("missing features: vmx,fma,movbe,bmi1,avx2,bmi2,invpcid\n"))
        }

        @Test func anUnknownFileIsBadInput() throws {
            let result = try CLI.run(["compare", "--host", "Fixtures/kvm03.xml", "Fixtures/domains/no-such-guest.xml"])
            #expect(result.status == 2)
            #expect(result.stdout == "")
            #expect(result.stderr.hasPrefix("cpucompat: ") && result.stderr.contains("no-such-guest.xml"))
            #expect(result.stderr.filter { $0 == "\n" }.count == 1)
        }
    }
}
