import Foundation
import Testing
@testable import CPUCompat

// Library-level tests of `cpucompat patch` and `cpucompat compare`: the guest
// CPU plans, DomainPatcher, DomainLayout, UnifiedDiff, SafeFileUpdate and
// CPUArchitecture.compare.
//
// Expected values come from the story in the README (kvm02 is a Haswell host
// with nested VMX, kvm03 an Ivy Bridge host; they differ by nine features and
// their baseline is IvyBridge-IBRS), from the help text of `cpucompat patch`,
// and from libvirt's own files (kvm03's domcapabilities lists the features a
// guest can get on it). Fixtures/domains/*.xml are hand-written domains that
// validate with libvirt 9.0's `virt-xml-validate FILE domain` (checked in
// PatchCommandTests).

// MARK: - Shared inputs

/// The built-in map of libvirt 9.0, the story's hosts' release (libvirt 9.0's), so the results do not depend on the machine.
private let rewriteMap: CPUMap = {
    do { return try CPUMap.builtIn(release: "9.0") } catch { preconditionFailure("the built-in map must load: \(error)") }
}()

private var x86: CPUArchitecture {
    get throws { try rewriteMap.x86Architecture(for: []) }
}

/// The story's hosts: kvm02 (Haswell-noTSX-IBRS) and kvm03 (IvyBridge-IBRS), from `virsh capabilities`.
private func storyHosts() throws -> [CPU] {
    try ["kvm02.xml", "kvm03.xml"].map { try rewriteMap.readSingleCPU(contentsOf: TestPaths.fixture($0)) }
}

/// The CPU described by `xml`, resolved against the built-in map.
private func cpu(_ xml: String, path: String = "guest.xml") throws -> CPU {
    let definitions = try CPUDefinitionReader.read(Array(xml.utf8), path: path)
    return try rewriteMap.resolve(try #require(definitions.first))
}

private func cpu(_ bytes: [UInt8], path: String) throws -> CPU {
    let definitions = try CPUDefinitionReader.read(bytes, path: path)
    return try rewriteMap.resolve(try #require(definitions.first))
}

/// The nine features kvm02 has and kvm03 lacks, in libvirt's order (the README's error message).
private let storyMissing = ["vmx", "fma", "movbe", "bmi1", "avx2", "bmi2", "invpcid", "pdpe1gb", "abm"]

/// Host CPU bits KVM does not give guests, and invtsc (migratable='no'): never required.
private let neverRequired = ["ds", "acpi", "ht", "tm", "pbe", "dtes64", "monitor", "ds_cpl", "smx", "est", "tm2",
                             "xtpr", "osxsave", "invtsc"]

/// The README's baseline of kvm02 and kvm03: features beyond IvyBridge-IBRS that both have.
private let storyBaselineRequire = ["ds", "acpi", "ss", "ht", "tm", "pbe", "dtes64", "monitor", "ds_cpl", "smx", "est",
                                    "tm2", "xtpr", "pdcm", "pcid", "osxsave", "arat", "md-clear", "stibp", "ssbd",
                                    "xsaveopt", "invtsc"]

/// What the model strategy requires for the story: the baseline less what is never required.
private let storyModelRequire = storyBaselineRequire.filter { !neverRequired.contains($0) }

private func bytes(ofFile path: String) throws -> [UInt8] {
    try CPUDefinitionReader.readBytes(contentsOf: path)
}

private func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }
private func text(_ bytes: ArraySlice<UInt8>) -> String { String(decoding: bytes, as: UTF8.self) }

/// Patches `bytes` for `hosts` (the story's by default) with `strategy`.
private func patch(_ bytes: [UInt8], _ strategy: PatchStrategy, hosts: [CPU]? = nil,
                   path: String = "domain.xml") throws -> DomainPatch {
    let architecture = try x86
    let plan = try architecture.guestPlan(for: try hosts ?? storyHosts(), strategy: strategy)
    return try DomainPatcher.patch(bytes, path: path, plan: plan, architecture: architecture)
}

private func patch(_ xml: String, _ strategy: PatchStrategy) throws -> DomainPatch {
    try patch(Array(xml.utf8), strategy)
}

// MARK: - Finding the <cpu> element independently of the code under test

/// The offset of `needle` in `haystack` at or after `from`.
private func find(_ needle: String, in haystack: [UInt8], from: Int = 0) -> Int? {
    let pattern = Array(needle.utf8)
    guard !pattern.isEmpty, haystack.count >= pattern.count, from <= haystack.count - pattern.count else { return nil }
    for start in from...(haystack.count - pattern.count) where haystack[start..<(start + pattern.count)].elementsEqual(pattern) {
        return start
    }
    return nil
}

/// The bytes of the domain's `<cpu …>` element, by plain search: right for
/// the fixtures, where `<cpu ` appears once and no attribute value holds `>`.
private func cpuElement(in bytes: [UInt8]) -> Range<Int>? {
    guard let start = find("<cpu ", in: bytes), let close = bytes[start...].firstIndex(of: UInt8(ascii: ">")) else { return nil }
    if bytes[close - 1] == UInt8(ascii: "/") { return start..<(close + 1) }
    guard let end = find("</cpu>", in: bytes, from: close) else { return nil }
    return start..<(end + "</cpu>".utf8.count)
}

/// The lines of the patched `<cpu>` element with the indentation of its
/// first line, without line ends.
private func cpuLines(_ patched: [UInt8]) throws -> [String] {
    let range = try #require(cpuElement(in: patched))
    let lineStart = patched[..<range.lowerBound].lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0
    return text(patched[lineStart..<range.upperBound]).split(separator: "\n", omittingEmptySubsequences: false)
        .map { $0.hasSuffix("\r") ? String($0.dropLast()) : String($0) }
}

/// The `<feature>` entries of a patched domain's CPU, as `policy name`.
private func featureEntries(_ patched: [UInt8]) throws -> [String] {
    let definition = try #require(try CPUDefinitionReader.read(patched, path: "patched.xml").first)
    return definition.features.map { "\($0.policy?.rawValue ?? "-") \($0.name)" }
}

/// All library tests of patch and compare, so `swift test --filter Rewrite` runs them.
@Suite struct RewriteTests {}

extension RewriteTests {
    /// The hand-written domains, with what each one exercises.
    struct DomainFixture: Sendable, CustomTestStringConvertible {
        var name: String
        /// The element the new `<cpu>` must follow when the domain has none.
        var insertedAfter: String?

        var path: String { TestPaths.fixture("domains/" + name) }
        var testDescription: String { name }

        /// (a) custom Haswell with topology, cache, maxphysaddr, features and NUMA. The cache is
        /// `mode='emulate' level='3'`: libvirt's QEMU driver refuses `mode='passthrough'` for
        /// anything but host-passthrough and maximum CPUs, although the schema allows it.
        static let custom = DomainFixture(name: "web01-custom-numa.xml")
        /// (b) no <cpu>, with <features>.
        static let noCPU = DomainFixture(name: "legacy02-nocpu.xml", insertedAfter: "</features>")
        /// (b) no <cpu> and no <features>; a <cputune> before <os> and a comment after it.
        static let noCPUNoFeatures = DomainFixture(name: "appliance03-nocpu-nofeatures.xml", insertedAfter: "</os>")
        /// (c) host-passthrough, migratable='on'.
        static let passthrough = DomainFixture(name: "build04-passthrough.xml")
        /// (d) XML declaration, double quotes, tabs.
        static let doubleQuotesTabs = DomainFixture(name: "db05-double-quotes-tabs.xml")
        /// (e) self-closing host-model <cpu/>, CRLF line ends.
        static let crlf = DomainFixture(name: "win06-crlf-host-model.xml")

        static let all = [custom, noCPU, noCPUNoFeatures, passthrough, doubleQuotesTabs, crlf]
    }
}

// MARK: - Plans

extension RewriteTests {
    @Suite struct GuestPlanTests {
        @Test func disableStrategyDisablesTheNineFeaturesInLibvirtsOrder() throws {
            let plan = try x86.guestPlan(for: try storyHosts(), strategy: .disable)
            #expect(plan.mode == .hostModel)
            #expect(plan.check == .partial)
            #expect(plan.match == nil)
            #expect(plan.model == nil)
            #expect(plan.vendor == nil)
            #expect(plan.features.map(\.name) == storyMissing)
            #expect(plan.features.allSatisfy { $0.policy == .disable })
        }

        @Test func modelStrategyIsTheBaselineWithFallbackForbid() throws {
            let plan = try x86.guestPlan(for: try storyHosts(), strategy: .model)
            #expect(plan.mode == .custom)
            #expect(plan.match == .exact)
            #expect(plan.check == .partial)
            #expect(plan.model == "IvyBridge-IBRS")
            #expect(plan.fallback == .forbid)
            #expect(plan.vendor == "Intel")
            #expect(plan.features.filter { $0.policy == .require }.map(\.name) == storyModelRequire)
            #expect(plan.features.allSatisfy { $0.policy == .require }, "IvyBridge-IBRS is whole on both hosts")
            for name in neverRequired {
                #expect(!plan.features.contains { $0.name == name }, "\(name) must never be required")
                #expect(plan.notes.contains { mentions($0, name) }, "a note says \(name) was left out")
            }
        }

        /// kvm03's `virsh domcapabilities` lists what a guest can get there; the
        /// smaller host's host-model CPU is exactly what the plan must ask for.
        @Test func modelStrategyAsksForWhatLibvirtOffersGuestsOnTheSmallerHost() throws {
            let domcaps = try #require(try CPUDefinitionReader.read(contentsOf: TestPaths.fixture("kvm03-domcaps.xml")).first)
            let plan = try x86.guestPlan(for: try storyHosts(), strategy: .model)
            #expect(plan.model == domcaps.model)
            #expect(plan.vendor == domcaps.vendor)
            #expect(plan.features.map(\.name) == domcaps.features.filter { $0.policy == .require }.map(\.name))
        }

        @Test func domainCapabilitiesHostsGiveTheSamePlanWithoutLeftOutFeatures() throws {
            let hosts = try ["kvm02-domcaps.xml", "kvm03-domcaps.xml"].map {
                try rewriteMap.readSingleCPU(contentsOf: TestPaths.fixture($0))
            }
            let fromCapabilities = try x86.guestPlan(for: try storyHosts(), strategy: .model)
            let fromDomainCapabilities = try x86.guestPlan(for: hosts, strategy: .model)
            #expect(fromDomainCapabilities.features == fromCapabilities.features)
            #expect(fromDomainCapabilities.model == fromCapabilities.model)
            #expect(fromDomainCapabilities.notes.isEmpty, "domcapabilities already leave out host-only bits and invtsc")
        }
    }
}

// MARK: - DomainPatcher

extension RewriteTests {
    @Suite struct DomainPatcherTests {
        @Test func storyDisableStrategyKeepsHostModelAndDisablesTheNine() throws {
            let result = try patch(try bytes(ofFile: TestPaths.fixture("guest01.xml")), .disable)
            let expected = ["  <cpu mode='host-model' check='partial'>"]
                + storyMissing.map { "    <feature policy='disable' name='\($0)'/>" }
                + ["  </cpu>"]
            #expect(try cpuLines(result.patched) == expected)
        }

        @Test func storyModelStrategyWritesTheBaselineModel() throws {
            let result = try patch(try bytes(ofFile: TestPaths.fixture("guest01.xml")), .model)
            let expected = ["  <cpu mode='custom' match='exact' check='partial'>",
                            "    <model fallback='forbid'>IvyBridge-IBRS</model>",
                            "    <vendor>Intel</vendor>"]
                + storyModelRequire.map { "    <feature policy='require' name='\($0)'/>" }
                + ["  </cpu>"]
            #expect(try cpuLines(result.patched) == expected)
            let required = try featureEntries(result.patched)
            for name in neverRequired { #expect(!required.contains("require \(name)")) }
        }

        @Test(arguments: DomainFixture.all, PatchStrategy.allCases)
        func onlyTheCPUElementChanges(fixture: DomainFixture, strategy: PatchStrategy) throws {
            let original = try bytes(ofFile: fixture.path)
            let patched = try patch(original, strategy, path: fixture.path).patched
            let new = try #require(cpuElement(in: patched), "the result has a <cpu>")
            #expect(text(patched[new]).hasSuffix("</cpu>"))
            if let old = cpuElement(in: original) {
                #expect(original[..<old.lowerBound].elementsEqual(patched[..<new.lowerBound]), "bytes before <cpu> changed")
                #expect(original[old.upperBound...].elementsEqual(patched[new.upperBound...]), "bytes after </cpu> changed")
            } else {
                // The inserted block is a line break, the indentation and the element.
                let lineBreak = try #require(patched[..<new.lowerBound].lastIndex(of: UInt8(ascii: "\n")))
                let withoutBlock = Array(patched[..<lineBreak]) + patched[new.upperBound...]
                #expect(withoutBlock == original, "removing the inserted <cpu> gives the original back")
                let anchor = try #require(fixture.insertedAfter)
                #expect(text(patched[..<lineBreak]).hasSuffix(anchor), "the new <cpu> follows \(anchor)")
            }
        }

        @Test(arguments: DomainFixture.all + [DomainFixture(name: "../guest01.xml")], PatchStrategy.allCases)
        func patchingAPatchedDomainChangesNothing(fixture: DomainFixture, strategy: PatchStrategy) throws {
            let once = try patch(try bytes(ofFile: fixture.path), strategy).patched
            let twice = try patch(once, strategy)
            #expect(twice.isUnchanged)
            #expect(twice.patched == once)
        }

        @Test(arguments: PatchStrategy.allCases)
        func newChildrenUseTheDocumentsTabsAndDoubleQuotes(strategy: PatchStrategy) throws {
            let result = try patch(try bytes(ofFile: DomainFixture.doubleQuotesTabs.path), strategy)
            let lines = try cpuLines(result.patched)
            let first = try #require(lines.first), last = try #require(lines.last)
            #expect(first.hasPrefix("\t<cpu mode=\"\(strategy == .model ? "custom" : "host-model")\""))
            #expect(last == "\t</cpu>")
            for line in lines.dropFirst().dropLast() {
                #expect(line.hasPrefix("\t\t<"), "child indented with two tabs: \(line)")
            }
            #expect(!lines.joined().contains("'"), "no single quotes in a double-quoted document")
            #expect(lines.contains("\t\t<topology sockets=\"1\" dies=\"1\" cores=\"4\" threads=\"2\"/>"))
            #expect(lines.contains("\t\t<feature policy=\"disable\" name=\"rdrand\"/>"))
            #expect(text(result.patched).hasPrefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<domain type=\"kvm\">\n"))
        }

        @Test(arguments: PatchStrategy.allCases)
        func crlfLineEndsAreKept(strategy: PatchStrategy) throws {
            let original = try bytes(ofFile: DomainFixture.crlf.path)
            let patched = try patch(original, strategy).patched
            let lineFeeds = patched.indices.filter { patched[$0] == UInt8(ascii: "\n") }
            #expect(!lineFeeds.isEmpty)
            #expect(lineFeeds.allSatisfy { $0 > 0 && patched[$0 - 1] == UInt8(ascii: "\r") }, "every line ends in CRLF")
            let block = text(patched[try #require(cpuElement(in: patched))])
            #expect(block.hasSuffix("\r\n  </cpu>"))
            #expect(block.contains("\r\n    <feature policy='"))
        }

        @Test func spacesAreTheUnitInTheOtherFixtures() throws {
            for fixture in [DomainFixture.custom, .noCPU, .noCPUNoFeatures, .passthrough] {
                let lines = try cpuLines(try patch(try bytes(ofFile: fixture.path), .model).patched)
                #expect(lines.first?.hasPrefix("  <cpu ") == true, "\(fixture.name)")
                #expect(lines.last == "  </cpu>", "\(fixture.name)")
                // Direct children are four spaces in; NUMA cells, kept verbatim, six.
                for line in lines.dropFirst().dropLast() {
                    #expect(line.hasPrefix("    <") || line.hasPrefix("      <cell "), "\(fixture.name): \(line)")
                }
            }
        }

        @Test(arguments: PatchStrategy.allCases)
        func topologyCacheMaxphysaddrAndNumaAreKeptVerbatim(strategy: PatchStrategy) throws {
            let lines = try cpuLines(try patch(try bytes(ofFile: DomainFixture.custom.path), strategy).patched)
            let kept = ["    <topology sockets='1' dies='1' cores='2' threads='2'/>",
                        "    <cache level='3' mode='emulate'/>",
                        "    <maxphysaddr mode='passthrough'/>"]
            let numa = ["    <numa>",
                        "      <cell id='0' cpus='0-1' memory='2097152' unit='KiB'/>",
                        "      <cell id='1' cpus='2-3' memory='2097152' unit='KiB'/>",
                        "    </numa>"]
            for line in kept + numa { #expect(lines.filter { $0 == line }.count == 1, "kept once: \(line)") }
            let numaStart = try #require(lines.firstIndex(of: numa[0]))
            #expect(Array(lines[numaStart...]) == numa + ["  </cpu>"], "NUMA comes last, after the features, unchanged")
            let lastFeature = try #require(lines.lastIndex { $0.contains("<feature ") })
            #expect(lastFeature < numaStart)
            #expect(!lines.contains { $0.contains("Haswell") }, "the old model is gone")
        }

        @Test func mergedFeaturesForTheModelStrategy() throws {
            let result = try patch(try bytes(ofFile: DomainFixture.custom.path), .model)
            let entries = try featureEntries(result.patched)
            // Planned: the eight requires. Existing: ss and pdcm (same), vmx (kvm03 lacks it: dropped),
            // pcid (disable: ours wins), sse4_1 and the rdrand disable (kept).
            let expected = storyModelRequire.map { "require \($0)" } + ["require sse4_1", "disable rdrand"]
            #expect(entries.sorted() == expected.sorted())
            #expect(Array(entries.prefix(storyModelRequire.count)) == storyModelRequire.map { "require \($0)" },
                    "the planned features come first, in map order")
            #expect(try uniqueCanonicalNames(entries))
            #expect(result.notes.contains { $0.contains("pcid") && $0.contains("'disable'") && $0.contains("'require'") },
                    "a note says our policy replaced the existing one: \(result.notes)")
            #expect(result.notes.contains { $0.contains("vmx") && $0.contains("dropped") },
                    "a note says the vmx requirement was dropped: \(result.notes)")
        }

        @Test func mergedFeaturesForTheDisableStrategy() throws {
            let result = try patch(try bytes(ofFile: DomainFixture.custom.path), .disable)
            let entries = try featureEntries(result.patched)
            let expected = storyMissing.map { "disable \($0)" }
                + ["require ss", "require pdcm", "disable pcid", "require sse4_1", "disable rdrand"]
            #expect(entries.sorted() == expected.sorted())
            #expect(try uniqueCanonicalNames(entries))
            #expect(result.notes.contains { $0.contains("vmx") && $0.contains("'require'") && $0.contains("'disable'") },
                    "a note says require vmx became disable: \(result.notes)")
            let lines = try cpuLines(result.patched)
            #expect(lines.first == "  <cpu mode='host-model' check='partial'>", "match='exact' goes with the model")
            #expect(!lines.contains { $0.contains("<model") || $0.contains("<vendor") })
        }

        @Test func anAliasCountsAsTheSameFeature() throws {
            // A plan that requires sse4.1 meets the fixture's <feature policy='require' name='sse4_1'/>,
            // and one that disables it meets the same entry with a different policy.
            let original = try bytes(ofFile: DomainFixture.custom.path)
            let architecture = try x86
            for policy in [FeaturePolicy.require, .disable] {
                var plan = try architecture.guestPlan(for: try storyHosts(), strategy: .model)
                plan.features.append(.init(policy: policy, name: "sse4.1"))
                let result = try DomainPatcher.patch(original, path: "web01.xml", plan: plan, architecture: architecture)
                let entries = try featureEntries(result.patched)
                #expect(entries.filter { $0.hasSuffix(" sse4.1") || $0.hasSuffix(" sse4_1") } == ["\(policy.rawValue) sse4.1"])
                if policy == .disable {
                    #expect(result.notes.contains { $0.contains("sse4_1") && $0.contains("'disable'") })
                }
            }
        }

        @Test(arguments: PatchStrategy.allCases)
        func hostPassthroughIsConvertedWithAWarning(strategy: PatchStrategy) throws {
            let result = try patch(try bytes(ofFile: DomainFixture.passthrough.path), strategy)
            let lines = try cpuLines(result.patched)
            #expect(lines.first == (strategy == .model ? "  <cpu mode='custom' match='exact' check='partial'>"
                                                       : "  <cpu mode='host-model' check='partial'>"))
            #expect(!lines.joined().contains("migratable"))
            #expect(!lines.joined().contains("host-passthrough"))
            #expect(lines.contains("    <topology sockets='1' dies='1' cores='4' threads='1'/>"))
            #expect(result.notes.contains { $0.contains("host-passthrough") })
            #expect(result.notes.contains { $0.contains("migratable") })
        }

        @Test func aDomainWithoutCPUGetsANote() throws {
            let result = try patch(try bytes(ofFile: DomainFixture.noCPU.path), .disable)
            #expect(result.notes.contains { $0.contains("no <cpu>") })
        }

        /// Comments, CDATA and metadata that look like a <cpu> are not it.
        @Test func lookalikesOfCPUAreLeftAlone() throws {
            let real = "<cpu mode='host-model' check='none'/>"
            let original = """
            <domain type='kvm'>
              <name>decoy</name>
              <description><![CDATA[moved from <cpu mode='host-passthrough'/> </cpu> on 2023-01-05]]></description>
              <metadata>
                <ops:cpu xmlns:ops="http://example.org/ops" note="a > b">host-passthrough</ops:cpu>
              </metadata>
              <memory unit='KiB'>1048576</memory>
              <vcpu>1</vcpu>
              <os>
                <type arch='x86_64'>hvm</type>
              </os>
              <!-- was: <cpu mode='host-passthrough'/> -->
              \(real)
              <devices/>
            </domain>

            """
            let result = try patch(original, .disable)
            let block = (["<cpu mode='host-model' check='partial'>"]
                + storyMissing.map { "    <feature policy='disable' name='\($0)'/>" } + ["  </cpu>"]).joined(separator: "\n")
            let parts = original.components(separatedBy: real)
            #expect(parts.count == 2)
            #expect(text(result.patched) == parts.joined(separator: block))
        }

        @Test func anEmptyCPUElementWithAnEndTagIsReplaced() throws {
            let original = "<domain type='kvm'>\n  <name>e</name>\n  <cpu mode='host-model'>\n  </cpu>\n  <devices/>\n</domain>\n"
            let result = try patch(original, .disable)
            let expected = "<domain type='kvm'>\n  <name>e</name>\n  <cpu mode='host-model' check='partial'>\n"
                + storyMissing.map { "    <feature policy='disable' name='\($0)'/>\n" }.joined()
                + "  </cpu>\n  <devices/>\n</domain>\n"
            #expect(text(result.patched) == expected)
        }

        @Test func malformedOrForeignDocumentsAreRefused() throws {
            #expect(throws: CPUCompatError.self) { try patch("<domain type='kvm'><name>x</name>", .model) }
            #expect(throws: CPUCompatError.self) { try patch("<cpu mode='host-model'/>", .model) }
            #expect(throws: CPUCompatError.self) { try patch("<domain type='kvm'/>", .model) }
            do {
                _ = try patch("<network><name>x</name></network>", .model)
                Issue.record("a <network> is not a domain")
            } catch let error as CPUCompatError {
                #expect(error.description.hasPrefix("domain.xml:"))
            }
        }
    }
}

/// Whether `note` names `feature` as a word of a list (`… guests: ds,acpi,ht`).
private func mentions(_ note: String, _ feature: String) -> Bool {
    note.split(whereSeparator: { ", :".contains($0) }).contains { $0 == feature }
}

/// Whether no two entries name the same feature, counting aliases.
private func uniqueCanonicalNames(_ entries: [String]) throws -> Bool {
    let architecture = try x86
    let names = entries.map { entry in
        let name = String(entry.split(separator: " ")[1])
        return architecture.feature(named: name)?.name ?? name
    }
    return Set(names).count == names.count
}

// MARK: - DomainLayout

extension RewriteTests {
    @Suite struct DomainLayoutTests {
        @Test func findsTheRootItsChildrenAndTheCPUsPartsWithExactOffsets() throws {
            let xml = """
            <?xml version="1.0"?>
            <!-- header with <fake> markup -->
            <domain type='kvm' note="x > y">
              <name>n</name>
              <![CDATA[ <cpu> ]]>
              <cpu mode='host-model' xmlns:z="urn:z" z:a='1'><!-- c <x> --><?pi <?q <model/> ?><model>M</model><z:e/></cpu>
              <?pi <cpu>?>
              <metadata><a:b xmlns:a="urn:a"><a:c/></a:b></metadata>
              <devices>
                <disk/>
              </devices >
            </domain>
            """
            let bytes = Array(xml.utf8)
            let layout = try DomainLayout.read(bytes, path: "d.xml")
            #expect(text(bytes[layout.root.start..<layout.root.startTagEnd]) == "<domain type='kvm' note=\"x > y\">")
            #expect(text(bytes[layout.root.range]).hasSuffix("</domain>"))
            #expect(layout.children.map(\.name) == ["name", "cpu", "metadata", "devices"])
            let texts = layout.children.map { text(bytes[$0.span.range]) }
            #expect(texts == ["<name>n</name>",
                              "<cpu mode='host-model' xmlns:z=\"urn:z\" z:a='1'><!-- c <x> --><?pi <?q <model/> ?><model>M</model><z:e/></cpu>",
                              "<metadata><a:b xmlns:a=\"urn:a\"><a:c/></a:b></metadata>",
                              "<devices>\n    <disk/>\n  </devices >"])
            #expect(layout.children.map(\.span.isEmptyElement) == [false, false, false, false])
            let cpu = try #require(layout.cpu)
            #expect(cpu.line == 6)
            #expect(cpu.attributes == [.init(name: "mode", value: "host-model", isPrefixed: false),
                                       .init(name: "z:a", value: "1", isPrefixed: true)])
            #expect(cpu.namespaceDeclarations.map { "\($0.prefix ?? "")=\($0.uri)" } == ["z=urn:z"])
            let parts = cpu.parts.map { part -> String in
                switch part {
                case let .other(range): "other " + text(bytes[range])
                case let .element(name, isLibvirts, _, span): "\(name) \(isLibvirts) " + text(bytes[span.range])
                }
            }
            #expect(parts == ["other <!-- c <x> -->", "other <?pi <?q <model/> ?>", "model true <model>M</model>",
                              "e false <z:e/>"])
        }

        @Test func offsetsHoldPastLibxml2sBufferShrinking() throws {
            // libxml2 drops consumed input as it goes; offsets must still be the file's.
            let padding = String(repeating: "<metadata><x:y xmlns:x='u'>\(String(repeating: "é", count: 40))</x:y></metadata>\n  ", count: 3000)
            let xml = "<domain type='kvm'>\n  <name>n</name>\n  \(padding)<cpu mode='host-model'/>\n</domain>\n"
            let bytes = Array(xml.utf8)
            let layout = try DomainLayout.read(bytes, path: "d.xml")
            let cpu = try #require(layout.cpu)
            #expect(text(bytes[cpu.span.range]) == "<cpu mode='host-model'/>")
            #expect(cpu.span.isEmptyElement)
            #expect(layout.children.count == 3002)
        }
    }
}

// MARK: - UnifiedDiff

extension RewriteTests {
    @Suite struct UnifiedDiffTests {
        private func diff(_ old: String, _ new: String) -> String {
            UnifiedDiff.render(from: Array(old.utf8), to: Array(new.utf8), oldName: "a.xml", newName: "b.xml")
        }

        @Test func equalInputsGiveNothing() {
            #expect(diff("a\nb\n", "a\nb\n") == "")
        }

        @Test func oneChangedLineHasThreeLinesOfContext() {
            let old = "a\nb\nc\nd\ne\nf\ng\nh\n"
            #expect(diff(old, "a\nb\nc\nd\nE\nf\ng\nh\n")
                    == "--- a.xml\n+++ b.xml\n@@ -2,7 +2,7 @@\n b\n c\n d\n-e\n+E\n f\n g\n h\n")
        }

        @Test func anInsertionCountsNoOldLines() {
            #expect(diff("1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n", "1\n2\n3\n4\n5\nX\nY\n6\n7\n8\n9\n10\n")
                    == "--- a.xml\n+++ b.xml\n@@ -3,6 +3,8 @@\n 3\n 4\n 5\n+X\n+Y\n 6\n 7\n 8\n")
            #expect(diff("", "a\nb\n") == "--- a.xml\n+++ b.xml\n@@ -0,0 +1,2 @@\n+a\n+b\n")
        }

        @Test func aDeletionAtTheStart() {
            #expect(diff("x\na\n", "a\n") == "--- a.xml\n+++ b.xml\n@@ -1,2 +1 @@\n-x\n a\n")
        }

        @Test func aMissingFinalNewlineIsMarked() {
            #expect(diff("a\nb", "a\nc") == "--- a.xml\n+++ b.xml\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+c\n\\ No newline at end of file\n")
        }
    }
}

// MARK: - SafeFileUpdate

extension RewriteTests {
    @Suite struct SafeFileUpdateTests {
        private struct Scratch {
            let folder = makeScratchDirectory()
            func path(_ name: String) -> String { folder + "/" + name }
            /// The folder's entries other than `.` and `..`, sorted.
            var entries: [String] { ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted() }
        }

        private func mode(_ path: String) -> mode_t {
            var status = stat()
            return stat(path, &status) == 0 ? status.st_mode & 0o7777 : 0
        }

        private func contents(_ path: String) -> String? {
            FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
        }

        @Test func replacesTheContentKeepingTheModeAndABackup() throws {
            let scratch = Scratch()
            defer { removeTree(scratch.folder) }
            let file = scratch.path("guest.xml")
            write("old\n", to: file)
            chmod(file, 0o640)
            let (old, new, _) = try SafeFileUpdate.update(file, backupSuffix: ".orig") { $0 + Array("new\n".utf8) }
            #expect(text(old) == "old\n")
            #expect(text(new) == "old\nnew\n")
            #expect(contents(file) == "old\nnew\n")
            #expect(contents(file + ".orig") == "old\n")
            #expect(mode(file) == 0o640)
            #expect(scratch.entries == ["guest.xml", "guest.xml.orig"])
        }

        @Test func aFailingTransformLeavesTheFileAndNoTemporaryFile() throws {
            let scratch = Scratch()
            defer { removeTree(scratch.folder) }
            let file = scratch.path("guest.xml")
            write("old\n", to: file)
            #expect(throws: CPUCompatError.incompatible(message: "no")) {
                try SafeFileUpdate.update(file, backupSuffix: ".orig") { _ throws(CPUCompatError) in throw .incompatible(message: "no") }
            }
            #expect(contents(file) == "old\n")
            #expect(scratch.entries == ["guest.xml"])
        }

        @Test func unchangedContentIsNotRewritten() throws {
            let scratch = Scratch()
            defer { removeTree(scratch.folder) }
            let file = scratch.path("guest.xml")
            write("same\n", to: file)
            var before = stat(), after = stat()
            stat(file, &before)
            try SafeFileUpdate.update(file) { $0 }
            stat(file, &after)
            #expect(before.st_ino == after.st_ino)
            #expect(scratch.entries == ["guest.xml"])
        }

        @Test func aSymbolicLinkIsRefusedUnlessFollowed() throws {
            let scratch = Scratch()
            defer { removeTree(scratch.folder) }
            let target = scratch.path("target.xml"), link = scratch.path("link.xml")
            write("old\n", to: target)
            symlink("target.xml", link)
            #expect(throws: CPUCompatError.self) { try SafeFileUpdate.update(link) { _ in Array("new\n".utf8) } }
            #expect(contents(target) == "old\n")
            #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: link)) == "target.xml")

            try SafeFileUpdate.update(link, followSymlinks: true) { _ in Array("new\n".utf8) }
            #expect(contents(target) == "new\n")
            #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: link)) == "target.xml", "still a link")
            #expect(scratch.entries == ["link.xml", "target.xml"])
        }

        @Test func aMissingFileIsUnreadable() {
            #expect(throws: CPUCompatError.self) { try SafeFileUpdate.update("/nonexistent/guest.xml") { $0 } }
        }

        @Test func writeCreatesOrReplacesAFile() throws {
            let scratch = Scratch()
            defer { removeTree(scratch.folder) }
            let file = scratch.path("out.xml")
            try SafeFileUpdate.write(Array("one\n".utf8), to: file)
            #expect(contents(file) == "one\n")
            chmod(file, 0o600)
            try SafeFileUpdate.write(Array("two\n".utf8), to: file)
            #expect(contents(file) == "two\n")
            #expect(mode(file) == 0o600, "replacing keeps the mode")
            #expect(scratch.entries == ["out.xml"])
        }
    }
}

// MARK: - compare

extension RewriteTests {
    @Suite struct CompareTests {
        private func host(_ name: String) throws -> CPU { try rewriteMap.readSingleCPU(contentsOf: TestPaths.fixture(name)) }

        @Test func theStoryGuestStartedOnKvm02CannotRunOnKvm03() throws {
            let guest = try host("guest01.xml")
            let comparison = try x86.compare(guest: guest, host: try host("kvm03.xml"), startedOn: try host("kvm02-domcaps.xml"))
            #expect(comparison.verdict == .incompatible)
            #expect(!comparison.isRunnable)
            #expect(comparison.missingFeatures == storyMissing)
            #expect(comparison.extraFeatures == [])
            #expect(comparison.message == "guest CPU doesn't match specification: missing features: " + storyMissing.joined(separator: ","))
            let comparedAs = try #require(comparison.comparedAs)
            #expect(comparedAs.contains("host-model") && comparedAs.contains("kvm02-domcaps.xml"))
        }

        @Test func theStoryGuestStartedOnKvm03RunsOnKvm02() throws {
            let comparison = try x86.compare(guest: try host("guest01.xml"), host: try host("kvm02.xml"),
                                             startedOn: try host("kvm03-domcaps.xml"))
            #expect(comparison.isRunnable)
            #expect(comparison.missingFeatures == [])
        }

        @Test(arguments: PatchStrategy.allCases)
        func thePatchedStoryGuestRunsOnBothHosts(strategy: PatchStrategy) throws {
            let patched = try patch(try bytes(ofFile: TestPaths.fixture("guest01.xml")), strategy).patched
            let guest = try cpu(patched, path: "patched.xml")
            for name in ["kvm02.xml", "kvm03.xml", "kvm02-domcaps.xml", "kvm03-domcaps.xml"] {
                for startedOn in ["kvm02-domcaps.xml", "kvm03-domcaps.xml"] {
                    // A custom guest ignores where it was started; a host-model one takes that host's CPU.
                    let comparison = try x86.compare(guest: guest, host: try host(name), startedOn: try host(startedOn))
                    #expect(comparison.isRunnable, "\(strategy) guest started on \(startedOn), on \(name): \(comparison.message ?? "")")
                    #expect([.identical, .superset].contains(comparison.verdict))
                }
            }
        }

        @Test func theModelGuestIsIdenticalToKvm03sHostModel() throws {
            let patched = try patch(try bytes(ofFile: TestPaths.fixture("guest01.xml")), .model).patched
            let comparison = try x86.compare(guest: try cpu(patched, path: "patched.xml"), host: try host("kvm03-domcaps.xml"))
            #expect(comparison.verdict == .identical)
            #expect(try x86.compare(guest: try cpu(patched, path: "patched.xml"), host: try host("kvm02.xml")).verdict == .superset)
        }

        @Test func aForbiddenFeatureTheHostHasIsExtra() throws {
            let guest = try cpu("""
            <cpu mode='custom' match='exact'>
              <model fallback='forbid'>IvyBridge-IBRS</model>
              <feature policy='forbid' name='pcid'/>
            </cpu>
            """)
            let comparison = try x86.compare(guest: guest, host: try host("kvm03.xml"))
            #expect(comparison.verdict == .incompatible)
            #expect(comparison.extraFeatures == ["pcid"])
            #expect(comparison.missingFeatures == [])
            #expect(comparison.message == "guest CPU doesn't match specification: extra features: pcid")
        }

        @Test func anotherVendorIsIncompatible() throws {
            let guest = try cpu("<cpu mode='custom' match='exact'><model>EPYC</model><vendor>AMD</vendor></cpu>")
            let comparison = try x86.compare(guest: guest, host: try host("kvm03.xml"))
            #expect(comparison.verdict == .incompatible)
            #expect(comparison.message == "host CPU vendor does not match required CPU vendor AMD")
        }

        @Test func anOptionalFeatureTheHostLacksIsNotMissing() throws {
            let guest = try cpu("""
            <cpu mode='custom' match='exact'>
              <model>IvyBridge-IBRS</model>
              <feature policy='optional' name='avx2'/>
            </cpu>
            """)
            #expect(try x86.compare(guest: guest, host: try host("kvm03.xml")).isRunnable)
            let required = try cpu("<cpu mode='custom' match='exact'><model>IvyBridge-IBRS</model><feature policy='require' name='avx2'/></cpu>")
            #expect(try x86.compare(guest: required, host: try host("kvm03.xml")).missingFeatures == ["avx2"])
        }

        @Test func aHostModelGuestWithoutStartedOnIsComparedAsTheHost() throws {
            let comparison = try x86.compare(guest: try host("guest01.xml"), host: try host("kvm03.xml"))
            // The host-model CPU lacks what KVM keeps from guests and invtsc (migratable='no'),
            // which the capabilities CPU lists: the host offers more than the guest gets.
            #expect(comparison.verdict == .superset)
            #expect(comparison.missingFeatures.isEmpty)
            #expect(comparison.comparedAs?.contains("kvm03.xml") == true)
        }
    }
}

/// Regressions for bugs a review found in the first patcher.
@Suite struct RewriteRegressionTests {
    private static let domain = """
    <domain type='kvm'>
      <name>r</name>
      <os><type arch='x86_64'>hvm</type></os>
      <cpu mode='host-passthrough' check='none' migratable='on'>
        <cache mode='passthrough'/>
        <feature policy='forbid' name='avx2'/>
        <feature policy='require' name='invtsc'/>
        <feature policy='require' name='ds'/>
      </cpu>
    </domain>

    """

    @Test func contradictoryExistingEntriesAreDroppedWithNotes() throws {
        let result = try patch(Self.domain, .model)
        let entries = try featureEntries(result.patched)
        #expect(!entries.contains { $0.contains("'avx2'") && $0.contains("forbid") }, "kvm02 has avx2: a forbid keeps the guest off it")
        #expect(!entries.contains { $0.contains("'invtsc'") }, "invtsc prevents migration")
        #expect(!entries.contains { $0.contains("'ds'") }, "KVM does not give ds to guests")
        #expect(result.notes.contains { $0.contains("policy='forbid' name='avx2'") })
        #expect(!text(result.patched).contains("<cache mode='passthrough'/>"))
        #expect(result.notes.contains { $0.contains("cache mode='passthrough'") })
    }

    @Test func diffOfACRLFDocumentIsLineByLine() {
        let diff = UnifiedDiff.render(from: Array("a\r\nb\r\n".utf8), to: Array("a\r\nc\r\n".utf8), oldName: "x", newName: "x")
        #expect(diff == "--- x\n+++ x\n@@ -1,2 +1,2 @@\n a\r\n-b\r\n+c\r\n")
    }

    @Test func newOutputFilesHonourTheUmask() throws {
        let folder = makeScratchDirectory()
        defer { removeTree(folder) }
        let old = umask(0o077)
        defer { umask(old) }
        try SafeFileUpdate.write(Array("x".utf8), to: folder + "/new.xml")
        var status = stat()
        #expect(stat(folder + "/new.xml", &status) == 0)
        #expect(status.st_mode & 0o777 == 0o600)
    }
}
