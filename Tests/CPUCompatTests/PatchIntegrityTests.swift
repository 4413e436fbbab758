import Testing
@testable import CPUCompat

// What `DomainPatcher` must do with the domains a red-team pass broke it on:
// patch exactly the `<cpu>` libxml2 sees, be repeatable on every document
// it accepts, keep what the old `<cpu>` held that the plan does not decide,
// and refuse, saying why, what libvirt itself would not read. Which
// documents libvirt reads was found by experiment with `virsh define` of
// libvirt 9.0 and 12.9 on the test driver: a domain is read as UTF-8 whatever
// its XML declaration says (Latin-1 or Shift_JIS bytes are refused, "Input
// is not proper UTF-8"), UTF-16 and EBCDIC are refused ("Start tag
// expected"), a default namespace on <domain> is refused ("missing name
// information"), a prefixed <d:domain> is read, a <cpu> in a namespace is
// ignored, and of two <cpu> children the first is used and the second
// silently dropped.

private let integrityMap: CPUMap = {
    do { return try CPUMap.builtIn(release: "9.0") } catch { preconditionFailure("the built-in map must load: \(error)") }
}()

/// The story's plan (kvm02 and kvm03) for `strategy`, and the map part it uses.
private func storyPlan(_ strategy: PatchStrategy) throws -> (GuestCPUPlan, CPUArchitecture) {
    let hosts = try ["kvm02.xml", "kvm03.xml"].map { try integrityMap.readSingleCPU(contentsOf: TestPaths.fixture($0)) }
    let architecture = try integrityMap.x86Architecture(for: hosts)
    return (try architecture.guestPlan(for: hosts, strategy: strategy), architecture)
}

private func patched(_ bytes: [UInt8], _ strategy: PatchStrategy = .model) throws -> DomainPatch {
    let (plan, architecture) = try storyPlan(strategy)
    return try DomainPatcher.patch(bytes, path: "domain.xml", plan: plan, architecture: architecture)
}

private func patched(_ xml: String, _ strategy: PatchStrategy = .model) throws -> DomainPatch {
    try patched(Array(xml.utf8), strategy)
}

private func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

/// The error patching `xml` throws, as printed.
private func refusal(_ bytes: [UInt8]) -> String? {
    do {
        _ = try patched(bytes)
        return nil
    } catch {
        return "\(error)"
    }
}

/// Patches `bytes`, then patches the result, for both strategies, and
/// expects the second run to change nothing.
private func expectRepeatable(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) throws {
    for strategy in PatchStrategy.allCases {
        let once = try patched(bytes, strategy)
        let twice = try patched(once.patched, strategy)
        #expect(twice.isUnchanged, "\(strategy): the second run changed\n\(text(once.patched))\ninto\n\(text(twice.patched))",
                sourceLocation: sourceLocation)
    }
}

/// A small domain around `cpu` (which may be empty).
private func domain(_ cpu: String, root: String = "<domain type='kvm'>", end: String = "</domain>") -> String {
    """
    \(root)
      <name>g</name>
      <memory unit='KiB'>1048576</memory>
      <os>
        <type arch='x86_64'>hvm</type>
      </os>
      \(cpu)
      <devices/>
    \(end)

    """
}

@Suite struct PatchIntegrityTests {
    // MARK: Wrong bytes rewritten

    @Test func aCPULookalikeInCDATAIsLeftAndTheRealCPUIsReplaced() throws {
        let xml = domain("<cpu mode='host-passthrough'/>").replacingAll(
            "<name>g</name>", with: "<name>g</name>\n  <description><![CDATA[ ]] <cpu mode='custom'> ]]]></description>")
        let result = try patched(xml)
        let output = text(result.patched)
        #expect(output.contains("<description><![CDATA[ ]] <cpu mode='custom'> ]]]></description>"))
        #expect(!output.contains("host-passthrough"), "the real <cpu> was replaced:\n\(output)")
        #expect(result.notes.contains { $0.contains("converted a host-passthrough guest") })
        try expectRepeatable(Array(xml.utf8))
    }

    @Test func shiftJISBytesThatFoolAByteScannerAreRefusedAsLibvirtRefusesThem() throws {
        // 0x81 0x5D is one Shift_JIS character whose second byte is ']': a byte
        // scanner sees "]]>" and ends the CDATA early. libvirt reads the file as
        // UTF-8, in which 0x81 cannot start a character, and refuses it.
        var bytes = Array("<?xml version='1.0' encoding='Shift_JIS'?>\n<domain type='kvm'>\n  <name>g</name>\n  <description><![CDATA[".utf8)
        bytes += [0x81, 0x5D] + Array("]><cpu mode='custom'> ]]></description>\n  <cpu mode='host-passthrough'/>\n</domain>\n".utf8)
        #expect(refusal(bytes) == "domain.xml:4: not valid UTF-8: the file declares Shift_JIS, but libvirt reads a domain as UTF-8 "
                + "whatever it declares, and refuses this one too; convert it: iconv -f Shift_JIS -t UTF-8")
    }

    @Test func aDeclaredEncodingIsIgnoredForUTF8Bytes() throws {
        // libvirt reads these as UTF-8, and so does the patch: the text stays as it was.
        let xml = "<?xml version='1.0' encoding='Shift_JIS'?>\n" + domain("<cpu mode='host-model'/>")
            .replacingAll("<name>g</name>", with: "<name>g</name>\n  <description>日本 café</description>")
        let result = try patched(xml)
        #expect(text(result.patched).contains("<description>日本 café</description>"))
        try expectRepeatable(Array(xml.utf8))
    }

    // MARK: Not repeatable

    @Test func aDefaultNamespaceOnDomainIsRefusedAsLibvirtRefusesIt() throws {
        let xml = domain("<cpu mode='host-model'/>", root: "<domain xmlns='http://libvirt.org/schemas/domain/1.0' type='kvm'>")
        #expect(refusal(Array(xml.utf8)) == "domain.xml:1: <domain> declares the default namespace "
                + "'http://libvirt.org/schemas/domain/1.0', which puts its elements in that namespace; libvirt reads only "
                + "elements in no namespace and refuses such a domain")
    }

    @Test func aPrefixedDomainIsPatchedOnceAndStaysPatched() throws {
        let xml = domain("", root: "<d:domain xmlns:d='urn:d' type='kvm'>", end: "</d:domain>")
        let once = try patched(xml)
        #expect(text(once.patched).components(separatedBy: "<cpu ").count == 2, "one <cpu> added")
        try expectRepeatable(Array(xml.utf8))
    }

    @Test(arguments: ["a&#10;b", "a&#9;b", "a&#13;b", "&lt;x&gt;", "a&amp;b", "say &quot;hi&quot; &apos;there&apos;", "é&#x1F600;"])
    func keptAttributeValuesAreEscapedAsXMLRequires(_ value: String) throws {
        let xml = domain("<cpu mode='host-model' note='\(value)'/>")
        let result = try patched(xml)
        let written = try #require(text(result.patched).components(separatedBy: "note='").dropFirst().first?.prefix { $0 != "'" })
        #expect(!written.contains("\n") && !written.contains("\t") && !written.contains("\r") && !written.contains("<"), "\(written)")
        // libxml2's tree reads back the same value from both documents.
        let note = { (bytes: [UInt8]) throws -> String? in
            try XMLDocument.parse(bytes, path: "d.xml").root?.children.first { $0.name == "cpu" }?.attribute("note")
        }
        let before = try note(Array(xml.utf8))
        #expect(before != nil)
        #expect(try note(result.patched) == before)
        try expectRepeatable(Array(xml.utf8))
    }

    @Test(arguments: [
        "  <domain type='kvm'>\n    <name>g</name>\n  </domain>\n",
        "\t<domain type='kvm'>\n\t\t<name>g</name>\n\t\t<cpu mode='host-model'/>\n\t</domain>",
        "<domain type='kvm'>\n</domain>\n",
        "  <domain type='kvm'>\n  </domain>\n",
        "<domain type='kvm'><name>g</name><os><type>hvm</type></os><devices/></domain>",
        "<?xml version='1.0'?><domain type='kvm'><name>g</name></domain>",
        "<domain type='kvm'>\r\n  <name>g</name>\r\n  <cpu mode='host-model'>\r\n  </cpu>\r\n</domain>\r\n",
        "<domain type='kvm'>\n  <devices/>\n  <name>g</name>\n</domain>\n",
        "<domain type='kvm'>\n    <name>g</name>\n  <os/>\n<cpu/></domain>",
    ])
    func layoutsAreRepeatable(_ xml: String) throws {
        try expectRepeatable(Array(xml.utf8))
    }

    // MARK: Valid input refused

    @Test func namespaceDeclarationsOnCPUAreKept() throws {
        let xml = domain("<cpu mode='host-model' xmlns:z='urn:z' z:origin='fleet'>\n    <z:tag/>\n  </cpu>")
        let output = text(try patched(xml).patched)
        #expect(output.contains("xmlns:z='urn:z'"))
        #expect(output.contains("z:origin='fleet'"))
        #expect(output.contains("\n    <z:tag/>\n"))
        try expectRepeatable(Array(xml.utf8))
    }

    @Test func commentsAndProcessingInstructionsInTheOldCPUAreCarried() throws {
        let xml = domain("""
        <cpu mode='host-model'>
            <!-- pinned for the 2026 migration, ticket OPS-123 -->
            <?fleet keep?>
            <feature policy='disable' name='vmx'/>
          </cpu>
        """)
        let output = text(try patched(xml, .disable).patched)
        #expect(output.contains("\n    <!-- pinned for the 2026 migration, ticket OPS-123 -->\n    <?fleet keep?>\n"), "\(output)")
        try expectRepeatable(Array(xml.utf8))
    }

    @Test(arguments: ["\t", "\n\t", "\r\n\t", "\n  \t", "x", "<![CDATA[<?q?><!--]]>", " ", ""])
    func commentsAndInstructionsAfterAnyTextAreCarried(_ between: String) throws {
        // libxml2 may report the text before a comment before its position moves past it.
        let xml = "<domain type='kvm'><name>a</name><cpu mode='host-model'>\(between)<!--c-->\(between)<?p x?></cpu></domain>"
        let output = text(try patched(xml).patched)
        #expect(output.contains("<!--c-->") && output.contains("<?p x?>"), "\(output)")
        try expectRepeatable(Array(xml.utf8))
    }

    @Test func aTabIndentedDomainWithACommentInItsCPUIsPatched() throws {
        let xml = "<domain type='kvm'>\n\t<name>a</name>\n\t<cpu mode='host-model'>\n    <!-- keep me -->\n\t</cpu>\n</domain>\n"
        #expect(text(try patched(xml).patched).contains("\n\t\t<!-- keep me -->\n"))
        try expectRepeatable(Array(xml.utf8))
    }

    @Test func anAmpersandInANamespaceURIOnCPUIsWrittenOnce() throws {
        let xml = domain("<cpu mode='host-model' xmlns:q='http://x/?a=1&amp;b=2'/>")
        #expect(text(try patched(xml).patched).contains("xmlns:q='http://x/?a=1&amp;b=2'"))
        try expectRepeatable(Array(xml.utf8))
    }

    @Test func aNamespaceNameThatIsNoURIIsReadAsLibvirtReadsIt() throws {
        // libxml2 calls this an error, but the document is well-formed and libvirt 11.3 defines it.
        let xml = domain("<cpu mode='host-model'/>", root: "<domain type='kvm' xmlns:z='urn with space'>")
        #expect(text(try patched(xml).patched).hasPrefix("<domain type='kvm' xmlns:z='urn with space'>"))
        try expectRepeatable(Array(xml.utf8))
    }

    @Test func aStartTagWithTooManyAttributesIsRefusedBeforeLibxml2ComparesThemAll() throws {
        let attributes = (0...XMLInput.maximumAttributes).map { "z:a\($0)='v'" }.joined(separator: " ")
        let xml = domain("<cpu mode='host-model' \(attributes)/>", root: "<domain type='kvm' xmlns:z='urn:z'>")
        #expect(refusal(Array(xml.utf8)) == "domain.xml:7: a start tag has more than 20,000 attributes (libvirt's have a few; "
                + "libxml2 checks them for duplicates in quadratic time)")
        // At the limit, the patch's own `match` and `check` do not make its result refused.
        let fewer = (1..<XMLInput.maximumAttributes).map { "z:a\($0)='v'" }.joined(separator: " ")
        #expect(throws: Never.self) { try patched(domain("<cpu mode='host-model' \(fewer)/>", root: "<domain type='kvm' xmlns:z='urn:z'>")) }
    }

    @Test func aUTF16DomainIsRefusedAsLibvirtRefusesIt() throws {
        let xml = domain("<cpu mode='host-model'/>")
        let utf16: [UInt8] = [0xFF, 0xFE] + xml.utf16.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
        #expect(refusal(utf16) == "domain.xml: is UTF-16 or UTF-32; libvirt reads a domain only as UTF-8 (convert it: iconv -t UTF-8)")
    }

    @Test func aSecondCPUIsRefusedNamingBoth() throws {
        let xml = domain("<cpu mode='host-model'/>\n  <cpu mode='host-passthrough'/>")
        #expect(refusal(Array(xml.utf8)) == "domain.xml:8: the domain has 2 <cpu> elements (lines 7, 8): libvirt would use "
                + "the first and silently drop the others; remove the extra ones first")
    }

    @Test func aCPUInANamespaceIsLeftAloneWithANote() throws {
        let xml = domain("<z:cpu xmlns:z='urn:z' mode='custom'/>")
        let result = try patched(xml)
        let output = text(result.patched)
        #expect(output.contains("<z:cpu xmlns:z='urn:z' mode='custom'/>"))
        #expect(output.components(separatedBy: "<cpu ").count == 2, "a libvirt <cpu> was added")
        #expect(result.notes.contains("left alone the <cpu> in a namespace on line 7: libvirt does not read it"))
        try expectRepeatable(Array(xml.utf8))
    }

    // MARK: Quadratic work

    @Test func twentyThousandExistingFeaturesAreMergedOnceEach() throws {
        // 20,000 entries naming every x86 feature of the map many times over,
        // under aliases too: each feature may appear once in the result.
        let (plan, architecture) = try storyPlan(.disable)
        let names = architecture.features.map(\.name)
        var lines: [String] = []
        for index in 0..<20_000 {
            let name = names[index % names.count]
            lines.append("<feature policy='\(index % 3 == 0 ? "disable" : "optional")' name='\(name)'/>")
        }
        let xml = domain("<cpu mode='host-model'>\n    " + lines.joined(separator: "\n    ") + "\n  </cpu>")
        let result = try DomainPatcher.patch(Array(xml.utf8), path: "domain.xml", plan: plan, architecture: architecture)
        let written = try #require(try CPUDefinitionReader.read(result.patched, path: "p.xml").first).features.map(\.name)
        let canonical = written.map { architecture.feature(named: $0)?.name ?? $0 }
        #expect(Set(canonical).count == canonical.count, "no feature twice")
        #expect(written.prefix(plan.features.count).elementsEqual(plan.features.map(\.name)), "the plan's features come first")
        #expect(result.notes.count < 10, "one note per kind of change, not one per feature: \(result.notes.count)")
        let twice = try DomainPatcher.patch(result.patched, path: "domain.xml", plan: plan, architecture: architecture)
        #expect(twice.isUnchanged)
    }
}
