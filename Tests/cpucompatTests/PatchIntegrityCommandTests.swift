import Foundation
import Testing

// PatchIntegrityTests through the built binary: what `cpucompat patch`
// refuses (and that the file then stays byte for byte), what it keeps of an
// old <cpu>, that its output patched again is unchanged, and what
// --in-place says of a file with other hard links. Which domains libvirt
// reads was found with `virsh define` of libvirt 9.0 and 12.9 (see
// PatchIntegrityTests).

private struct Folder {
    let path: String = {
        let path = NSTemporaryDirectory() + "cpucompat-integrity-" + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }()

    func file(_ name: String, _ bytes: [UInt8]) throws -> String {
        try Data(bytes).write(to: URL(fileURLWithPath: path + "/" + name))
        return path + "/" + name
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

private let hosts = ["--host", "Fixtures/kvm02.xml", "--host", "Fixtures/kvm03.xml"]

private func guest(replacingCPUWith cpu: String) throws -> String {
    try String(contentsOfFile: CLI.fixture("guest01.xml"), encoding: .utf8)
        .replacingOccurrences(of: "<cpu mode='host-model' check='partial'/>", with: cpu)
}

private func contents(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }

@Suite struct PatchIntegrityCommandTests {
    /// `patch` and `patch --in-place` of `bytes` exit 2 with `message` (after the
    /// path) as the only line, print nothing, and leave the file as it was.
    private func expectRefused(_ bytes: [UInt8], _ message: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let folder = Folder()
        defer { folder.remove() }
        let path = try folder.file("domain.xml", bytes)
        for extra in [[], ["--in-place"]] {
            let result = try CLI.run(["patch", path] + hosts + extra)
            #expect(result.status == 2, "\(extra): \(result.stderr)", sourceLocation: sourceLocation)
            #expect(result.stdout.isEmpty, sourceLocation: sourceLocation)
            #expect(result.stderr == "cpucompat: \(path)\(message)\n", sourceLocation: sourceLocation)
        }
        #expect(contents(path) == Data(bytes), "the file is unchanged", sourceLocation: sourceLocation)
        let left = try FileManager.default.contentsOfDirectory(atPath: folder.path)
        #expect(left == ["domain.xml"], "no temporary file is left", sourceLocation: sourceLocation)
    }

    @Test func shiftJISBytesAreRefusedAsLibvirtRefusesThem() throws {
        var bytes = Array("<?xml version='1.0' encoding='Shift_JIS'?>\n".utf8)
        bytes += Array(try guest(replacingCPUWith: "<cpu mode='host-passthrough'/>")
            .replacingOccurrences(of: "<name>guest01</name>", with: "<name>guest01</name>\n  <description><![CDATA[\u{1}]><cpu> ]]></description>")
            .utf8).flatMap { $0 == 0x01 ? [0x81, 0x5D] : [$0] }
        let line = 1 + bytes.prefix { $0 != 0x81 }.filter { $0 == 0x0A }.count
        try expectRefused(bytes, ":\(line): not valid UTF-8: the file declares Shift_JIS, but libvirt reads a domain as UTF-8 "
                          + "whatever it declares, and refuses this one too; convert it: iconv -f Shift_JIS -t UTF-8")
    }

    @Test func aUTF16DomainIsRefusedAsLibvirtRefusesIt() throws {
        let text = try guest(replacingCPUWith: "<cpu mode='host-model'/>")
        try expectRefused([0xFE, 0xFF] + text.utf16.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] },
                          ": is UTF-16 or UTF-32; libvirt reads a domain only as UTF-8 (convert it: iconv -t UTF-8)")
    }

    @Test func aDefaultNamespaceOnDomainIsRefused() throws {
        let text = try guest(replacingCPUWith: "<cpu mode='host-model'/>")
            .replacingOccurrences(of: "<domain type='kvm'>", with: "<domain type='kvm' xmlns='urn:example'>")
        try expectRefused(Array(text.utf8), ":8: <domain> declares the default namespace 'urn:example', which puts its elements "
                          + "in that namespace; libvirt reads only elements in no namespace and refuses such a domain")
    }

    @Test func aSecondCPUIsRefused() throws {
        let text = try guest(replacingCPUWith: "<cpu mode='host-model'/>\n  <cpu mode='host-passthrough'/>")
        try expectRefused(Array(text.utf8), ":29: the domain has 2 <cpu> elements (lines 28, 29): libvirt would use the first "
                          + "and silently drop the others; remove the extra ones first")
    }

    @Test func whatTheOldCPUHeldIsKeptAndTheOutputIsRepeatable() throws {
        let folder = Folder()
        defer { folder.remove() }
        let text = try guest(replacingCPUWith: """
        <cpu mode='host-model' check='partial' xmlns:ops='urn:ops' ops:ticket='OPS-1&#10;2'>
            <!-- pinned for the migration -->
            <ops:owner>team-a</ops:owner>
            <feature policy='disable' name='vmx'/>
          </cpu>
        """)
        let path = try folder.file("guest.xml", Array(text.utf8))
        for strategy in ["model", "disable"] {
            let once = try CLI.run(["patch", path, "--strategy", strategy] + hosts)
            #expect(once.status == 0, "\(once.stderr)")
            #expect(once.stdout.contains("xmlns:ops='urn:ops'") && once.stdout.contains("ops:ticket='OPS-1&#10;2'"))
            #expect(once.stdout.contains("\n    <!-- pinned for the migration -->\n    <ops:owner>team-a</ops:owner>\n"))
            let again = try CLI.run(["patch", "-", "--strategy", strategy] + hosts, input: once.stdout)
            #expect(again.status == 0, "\(again.stderr)")
            #expect(again.stdout == once.stdout, "\(strategy): patching the output again changes nothing")
        }
    }

    @Test func twentyThousandExistingFeaturesArePatched() throws {
        let folder = Folder()
        defer { folder.remove() }
        let names = ["vmx", "pcid", "ss", "pdcm", "x2apic", "erms", "smep", "hle", "rtm", "mpx"]
        let features = (0..<20_000).map { "    <feature policy='\($0 % 2 == 0 ? "disable" : "optional")' name='\(names[$0 % names.count])'/>" }
        let text = try guest(replacingCPUWith: "<cpu mode='host-model' check='partial'>\n" + features.joined(separator: "\n") + "\n  </cpu>")
        let path = try folder.file("guest.xml", Array(text.utf8))
        let result = try CLI.run(["patch", path] + hosts)
        #expect(result.status == 0, "\(result.stderr.prefix(500))")
        for name in names {
            let count = result.stdout.components(separatedBy: "name='\(name)'/>").count - 1
            #expect(count <= 1, "\(name) is written \(count) times")
        }
        #expect(result.stderr.split(separator: "\n").count < 10, "one note per kind of change")
    }

    @Test func inPlaceOnAFileWithAnotherHardLinkSaysTheLinkKeepsTheOldContent() throws {
        let folder = Folder()
        defer { folder.remove() }
        let original = try Data(contentsOf: URL(fileURLWithPath: CLI.fixture("guest01.xml")))
        let path = try folder.file("guest.xml", Array(original))
        let link = folder.path + "/snapshot.xml"
        try FileManager.default.linkItem(atPath: path, toPath: link)
        let result = try CLI.run(["patch", path, "--in-place"] + hosts)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("cpucompat: note: \(path) had 1 other hard link, which keeps the old content: "
                                       + "the file was replaced, not rewritten\n"))
        #expect(contents(link) == original, "the other name keeps the old content")
        #expect(contents(path) != original)
    }
}
