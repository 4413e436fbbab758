import Foundation
import Testing
@testable import CPUCompat

// Patching the domains of libvirt 11.3's own test suite (tests/qemuxmlconfdata,
// about 2,300 files, fetched by Scripts/fetch-domain-corpus), with both
// strategies for the story's hosts, against the built-in 11.3 map:
// - every byte outside the old <cpu> is kept, found by a plain search that
//   does not share code with the patcher;
// - patching the result again changes nothing;
// - a domain that validates against libvirt 11.3's schema (xmllint --relaxng
//   domain.rng) still validates once patched;
// - the only files refused are those libxml2 cannot read.

private enum DomainCorpus {
    static var folder: String {
        let environment = ProcessInfo.processInfo.environment
        if let folder = environment["CPUCOMPAT_DOMAIN_CORPUS"], !folder.isEmpty { return folder }
        return (environment["CPUCOMPAT_ORACLES"].flatMap { $0.isEmpty ? nil : $0 } ?? "/var/cache/cpucompat-oracles")
            + "/libvirt-11.3-domains"
    }
    static var schema: String { Oracle.root + "/11.3/schemas/domain.rng" }
    static let xmllint = "/usr/bin/xmllint"

    static var isPresent: Bool { FileManager.default.fileExists(atPath: folder + "/.complete") }
    static var skipReason: Comment {
        Comment(rawValue: "libvirt's domain corpus (\(folder)) is absent: the domain corpus test is SKIPPED "
                + "(run Scripts/fetch-domain-corpus)")
    }
    static var canValidate: Bool {
        FileManager.default.isExecutableFile(atPath: xmllint) && FileManager.default.fileExists(atPath: schema)
    }
    static var validationSkipReason: Comment {
        Comment(rawValue: "\(xmllint) or libvirt 11.3's \(schema) is absent: the schema check of patched domains is SKIPPED")
    }

    static var files: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasSuffix(".xml") }.sorted()
    }

    /// The names of the files in `folder` that validate against libvirt 11.3's domain schema.
    static func validating(in folder: String, _ names: [String]) throws -> Set<String> {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: xmllint)
        process.arguments = ["--noout", "--relaxng", schema] + names
        process.currentDirectoryURL = URL(fileURLWithPath: folder)
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let output = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return Set(output.split(separator: "\n").compactMap { line in
            line.hasSuffix(" validates") ? String(line.dropLast(" validates".count)) : nil
        })
    }
}

/// The first `<cpu` start tag followed by white space, `/` or `>`, and the
/// end of its element: a plain search, right for libvirt's test domains,
/// which hold no `<cpu` in comments, CDATA or attribute values.
private func plainCPURange(_ bytes: [UInt8]) -> Range<Int>? {
    let open = Array("<cpu".utf8), close = Array("</cpu>".utf8)
    func find(_ pattern: [UInt8], from start: Int) -> Int? {
        var index = start
        while index + pattern.count <= bytes.count {
            if bytes[index] == pattern[0], bytes[index..<(index + pattern.count)].elementsEqual(pattern) { return index }
            index += 1
        }
        return nil
    }
    var from = 0
    while let start = find(open, from: from) {
        from = start + 1
        let next = start + open.count < bytes.count ? bytes[start + open.count] : 0
        guard [0x20, 0x09, 0x0A, 0x0D, UInt8(ascii: "/"), UInt8(ascii: ">")].contains(next),
              let tagEnd = bytes[start...].firstIndex(of: UInt8(ascii: ">")) else { continue }
        if bytes[tagEnd - 1] == UInt8(ascii: "/") { return start..<(tagEnd + 1) }
        guard let end = find(close, from: tagEnd) else { return nil }
        return start..<(end + close.count)
    }
    return nil
}

/// `bytes` without the element in `range` and, where `lead` is set, the line
/// break and indentation just before it.
private func removing(_ range: Range<Int>, from bytes: [UInt8], lead: Bool) -> [UInt8] {
    var start = range.lowerBound
    if lead {
        while start > 0, bytes[start - 1] == 0x20 || bytes[start - 1] == 0x09 { start -= 1 }
        if start > 0, bytes[start - 1] == 0x0A { start -= 1 }
        if start > 0, bytes[start - 1] == 0x0D { start -= 1 }
    }
    return Array(bytes[..<start] + bytes[range.upperBound...])
}

/// The story's plan (kvm02 and kvm03) against the built-in map of the corpus's release, 11.3.
private func storyPlan(_ strategy: PatchStrategy) throws -> (GuestCPUPlan, CPUArchitecture) {
    let map = try CPUMap.builtIn(release: "11.3")
    let hosts = try ["kvm02.xml", "kvm03.xml"].map { try map.readSingleCPU(contentsOf: TestPaths.fixture($0)) }
    let architecture = try map.x86Architecture(for: hosts)
    return (try architecture.guestPlan(for: hosts, strategy: strategy), architecture)
}

@Suite(.enabled(if: DomainCorpus.isPresent, DomainCorpus.skipReason))
struct DomainCorpusTests {
    @Test(arguments: PatchStrategy.allCases)
    func everyDomainIsPatchedKeepingAllButItsCPU(_ strategy: PatchStrategy) throws {
        let (plan, architecture) = try storyPlan(strategy)
        let files = DomainCorpus.files
        #expect(files.count > 2000, "the corpus holds libvirt's ~2,300 test domains: \(files.count)")

        var refused: [String: String] = [:]
        var comparedOutside = 0
        for name in files {
            let bytes = try CPUDefinitionReader.readBytes(contentsOf: DomainCorpus.folder + "/" + name)
            let patch: DomainPatch
            do {
                patch = try DomainPatcher.patch(bytes, path: name, plan: plan, architecture: architecture)
            } catch {
                refused[name] = "\(error)"
                continue
            }
            let again = try DomainPatcher.patch(patch.patched, path: name, plan: plan, architecture: architecture)
            #expect(again.isUnchanged, "\(name): patching the result again changed it")
            guard let new = plainCPURange(patch.patched) else {
                Issue.record("\(name): the patched domain has no <cpu>")
                continue
            }
            if let old = plainCPURange(bytes) {
                #expect(removing(old, from: bytes, lead: false) == removing(new, from: patch.patched, lead: false),
                        "\(name): bytes outside <cpu> changed")
            } else {
                #expect(bytes == removing(new, from: patch.patched, lead: true), "\(name): bytes outside the new <cpu> changed")
            }
            comparedOutside += 1
        }
        // libvirt's suite holds one deliberately broken document; nothing else may be refused.
        #expect(Array(refused.keys) == ["broken-xml-invalid.xml"], "refused: \(refused)")
        #expect(refused["broken-xml-invalid.xml"]?.contains("Couldn't find end of Start Tag") == true)
        #expect(comparedOutside == files.count - refused.count)
    }

    @Test(.enabled(if: DomainCorpus.canValidate, DomainCorpus.validationSkipReason), arguments: PatchStrategy.allCases)
    func aValidDomainStaysValidOncePatched(_ strategy: PatchStrategy) throws {
        let (plan, architecture) = try storyPlan(strategy)
        let files = DomainCorpus.files
        let valid = try DomainCorpus.validating(in: DomainCorpus.folder, files)
        #expect(valid.count > 2000, "most of libvirt's test domains validate: \(valid.count)")

        let scratch = makeScratchDirectory()
        defer { removeTree(scratch) }
        let names = valid.sorted()
        for name in names {
            let bytes = try CPUDefinitionReader.readBytes(contentsOf: DomainCorpus.folder + "/" + name)
            let patch = try DomainPatcher.patch(bytes, path: name, plan: plan, architecture: architecture)
            try SafeFileUpdate.write(patch.patched, to: scratch + "/" + name)
        }
        let stillValid = try DomainCorpus.validating(in: scratch, names)
        let broken = names.filter { !stillValid.contains($0) }
        #expect(broken.isEmpty, "\(broken.count) valid domains no longer validate once patched: \(broken.prefix(20))")
    }
}
