import Foundation
import Testing
@testable import CPUCompat

// Hostile and broken input through the library: every document below must be
// refused with one `CPUCompatError` whose description is exactly the line the
// CLI prints (`FILE:LINE: what is wrong`, or `FILE: …` where no line is
// known), without the content of any file the document points at
// (/etc/passwd). The suite has a time limit as a hang guard; speed is measured
// by the benchmarks, never asserted here.
//
// Every crafted input is generated here and written to a scratch folder;
// none is stored under Fixtures. HostileInputCommandTests runs the same kinds
// of input through the built binary.

@Suite(.timeLimit(.minutes(2))) struct HostileInputTests {}

// MARK: - Shared helpers

extension HostileInputTests {
    /// The built-in map, so results do not depend on the machine.
    static let map: CPUMap = {
        do { return try CPUMap.builtIn() } catch { preconditionFailure("the built-in map must load: \(error)") }
    }()

    /// Text that must never appear in a diagnostic: the start of /etc/passwd's
    /// first line ("root:x:0:0"), the file the hostile documents point at.
    static let leakMarker: String = {
        let text = (try? String(contentsOfFile: "/etc/passwd", encoding: .utf8)) ?? ""
        let first = text.split(separator: "\n").first.map { String($0.prefix(10)) } ?? ""
        return first.count == 10 ? first : "root:x:0:0"
    }()

    static let doctypeRefused = "a DOCTYPE is not accepted (cpucompat reads libvirt XML, which has none)"
    static let tooDeep = "the elements nest too deeply (libxml2's limit is 256 levels)"

    /// A scratch folder under /tmp, removed by `remove()`.
    struct Scratch {
        let folder = makeScratchDirectory()

        func path(_ name: String) -> String { folder + "/" + name }

        @discardableResult
        func file(_ name: String, _ bytes: [UInt8]) -> String {
            let path = path(name)
            FileManager.default.createFile(atPath: path, contents: Data(bytes))
            return path
        }

        /// The folder's entries, hidden temporary files included.
        var entries: [String] { ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted() }

        func remove() { removeTree(folder) }
    }

    static func contents(_ path: String) -> [UInt8]? {
        FileManager.default.contents(atPath: path).map(Array.init)
    }

    /// Runs `body`, which must throw; checks the error's description is
    /// `expected`, one line, and leaks nothing.
    static func expectRefusal(_ expected: String, sourceLocation: SourceLocation = #_sourceLocation,
                              _ body: () throws(CPUCompatError) -> Void) {
        var caught: CPUCompatError?
        do throws(CPUCompatError) { try body() } catch { caught = error }
        guard let caught else {
            Issue.record("expected the error \(expected), but nothing was thrown", sourceLocation: sourceLocation)
            return
        }
        checkDescription(caught.description, sourceLocation: sourceLocation)
        let matches = caught.description == expected
        #expect(matches, "got \(shortened(caught.description)), expected \(expected)", sourceLocation: sourceLocation)
    }

    /// Like `expectRefusal`, for inputs whose exact wording is libxml2's and
    /// varies with the input: the description must start with `prefix`.
    static func expectRefusal(prefix: String, sourceLocation: SourceLocation = #_sourceLocation,
                              _ body: () throws(CPUCompatError) -> Void) {
        var caught: CPUCompatError?
        do throws(CPUCompatError) { try body() } catch { caught = error }
        guard let caught else {
            Issue.record("expected an error starting \(prefix), but nothing was thrown", sourceLocation: sourceLocation)
            return
        }
        checkDescription(caught.description, sourceLocation: sourceLocation)
        #expect(caught.description.hasPrefix(prefix), "\(shortened(caught.description))", sourceLocation: sourceLocation)
        #expect(caught.description.count > prefix.count, sourceLocation: sourceLocation)
    }

    /// Checks `body` refuses `document` as `expected` says, word for word
    /// or, where the wording is arbitrary, by location (`PATH:LINE: `).
    static func expectRefusal(of document: HostileDocument, at path: String, expected: String,
                              sourceLocation: SourceLocation = #_sourceLocation,
                              _ body: () throws(CPUCompatError) -> Void) {
        if document.exactWording {
            expectRefusal(expected, sourceLocation: sourceLocation, body)
        } else {
            let afterPath = expected.dropFirst(path.count)
            let location = afterPath.range(of: ": ").map { path + afterPath[..<$0.upperBound] } ?? expected
            expectRefusal(prefix: location, sourceLocation: sourceLocation, body)
        }
    }

    private static func checkDescription(_ description: String, sourceLocation: SourceLocation) {
        #expect(!description.contains(leakMarker), "leaked: \(shortened(description))", sourceLocation: sourceLocation)
        #expect(!description.contains { $0.isNewline }, "not one line: \(shortened(description))", sourceLocation: sourceLocation)
        #expect(description.utf8.count < 4096, "\(description.utf8.count) bytes: \(shortened(description))",
                sourceLocation: sourceLocation)
    }

    /// `text`, or its start and its length when it is long (an expanded entity).
    static func shortened(_ text: String) -> String {
        text.utf8.count <= 600 ? text : "\(text.prefix(300))… (\(text.utf8.count) bytes)"
    }

    /// The story's hosts and the plan `cpucompat patch` writes for them.
    static func storyPlan() throws -> (GuestCPUPlan, CPUArchitecture) {
        let hosts = try ["kvm02.xml", "kvm03.xml"].map { try map.readSingleCPU(contentsOf: TestPaths.fixture($0)) }
        let architecture = try map.x86Architecture(for: hosts)
        return (try architecture.guestPlan(for: hosts, strategy: .model), architecture)
    }
}

// MARK: - The catalogue of hostile documents

/// A seeded generator (SplitMix64), so "random" bytes are the same on every run.
struct HostileRandom: RandomNumberGenerator {
    private var generator: SplitMix64

    init(seed: UInt64) { generator = SplitMix64(seed: seed) }

    mutating func next() -> UInt64 { generator.next() }
}

/// One crafted document and what reading it must report.
struct HostileDocument: Sendable, CustomTestStringConvertible {
    /// What the document is, and the file name it is written to.
    let name: String
    let bytes: @Sendable () -> [UInt8]
    /// The description of the error, given the path the document was read from.
    let expected: @Sendable (String) -> String
    /// Where patching the document as a domain reports something else.
    var expectedAsDomain: (@Sendable (String) -> String)? = nil
    /// Whether the message after `FILE:LINE: ` must match word for word. It
    /// need not where the words are libxml2's and depend on arbitrary bytes
    /// (garbage): then only the location must match.
    var exactWording = true

    var testDescription: String { name }

    static let doctype = HostileInputTests.doctypeRefused

    /// A billion-laughs DOCTYPE (ten levels of ten references each), on lines 2-14.
    static let laughsSubset: String = {
        var lines = ["<!DOCTYPE cpu [", "  <!ENTITY lol \"lol\">"]
        for level in 1...9 {
            let inner = level == 1 ? "&lol;" : "&lol\(level - 1);"
            lines.append("  <!ENTITY lol\(level) \"\(String(repeating: inner, count: 10))\">")
        }
        lines.append("]>")
        return lines.joined(separator: "\n")
    }()

    /// One entity of 100 KB, referenced 10,000 times: a gigabyte if expanded.
    static let quadraticSubset = "<!DOCTYPE cpu [\n  <!ENTITY a \"" + String(repeating: "a", count: 100_000) + "\">\n]>"
    static let quadraticReferences = String(repeating: "&a;", count: 10_000)

    static let deepNesting = String(repeating: "<a>", count: 200_000) + String(repeating: "</a>", count: 200_000)

    static func utf8(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// libvirt reads a domain as a C string, so a NUL byte ends it early.
    static let nulByte = "holds a NUL byte, where libvirt would stop reading the file"
    static func lineOfFirstNUL(_ bytes: [UInt8]) -> Int {
        1 + bytes.prefix { $0 != 0 }.filter { $0 == 0x0A }.count
    }

    /// `text` in UTF-16 with a byte order mark (little-endian, as Windows writes it).
    static func utf16(_ text: String) -> [UInt8] { [0xFF, 0xFE] + text.utf16.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] } }

    static func garbage(seed: UInt64, count: Int = 4096) -> [UInt8] {
        var random = HostileRandom(seed: seed)
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &random) }
    }

    static let all: [HostileDocument] = [
        HostileDocument(name: "external entity in an element", bytes: { utf8("""
            <?xml version="1.0"?>
            <!DOCTYPE cpu [
              <!ENTITY xxe SYSTEM "file:///etc/passwd">
            ]>
            <cpu>
              <model>&xxe;</model>
            </cpu>

            """) }, expected: { "\($0):2: \(doctype)" }),
        HostileDocument(name: "external entity in an attribute", bytes: { utf8("""
            <!DOCTYPE cpu [<!ENTITY xxe SYSTEM "/etc/passwd">]>
            <cpu mode='&xxe;'>
              <model>Haswell</model>
            </cpu>

            """) }, expected: { "\($0):1: \(doctype)" }),
        HostileDocument(name: "external parameter entity after a comment", bytes: { utf8("""
            <!-- a comment
                 over two lines -->
            <?some-instruction with="data"?>
            <!DOCTYPE cpu [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>
            <cpu><model>Haswell</model></cpu>

            """) }, expected: { "\($0):4: \(doctype)" }),
        HostileDocument(name: "external DTD over HTTP", bytes: { utf8("""
            <!DOCTYPE cpu SYSTEM "http://127.0.0.1:9/x.dtd">
            <cpu><model>Haswell</model></cpu>

            """) }, expected: { "\($0):1: \(doctype)" }),
        HostileDocument(name: "external DTD from a file", bytes: { utf8("""
            <?xml version="1.0" encoding="UTF-8"?>

            <!DOCTYPE cpu SYSTEM "file:///etc/passwd">
            <cpu><model>Haswell</model></cpu>

            """) }, expected: { "\($0):3: \(doctype)" }),
        HostileDocument(name: "external DTD by public identifier", bytes: { utf8("""
            \u{FEFF}<!DOCTYPE cpu PUBLIC "-//cpucompat//hostile//EN" "/etc/passwd">
            <cpu><model>Haswell</model></cpu>

            """) }, expected: { "\($0):1: \(doctype)" }),
        HostileDocument(name: "billion laughs in an element", bytes: {
            utf8("<?xml version=\"1.0\"?>\n" + laughsSubset + "\n<cpu>\n  <model>&lol9;</model>\n</cpu>\n")
        }, expected: { "\($0):2: \(doctype)" }),
        HostileDocument(name: "billion laughs in an attribute", bytes: {
            utf8(laughsSubset + "\n<cpu mode='&lol9;'>\n  <model>Haswell</model>\n</cpu>\n")
        }, expected: { "\($0):1: \(doctype)" }),
        HostileDocument(name: "quadratic blowup in an element", bytes: {
            utf8(quadraticSubset + "\n<cpu>\n  <model>" + quadraticReferences + "</model>\n</cpu>\n")
        }, expected: { "\($0):1: \(doctype)" }),
        HostileDocument(name: "quadratic blowup in an attribute", bytes: {
            utf8(quadraticSubset + "\n<cpu mode='" + quadraticReferences + "'>\n  <model>Haswell</model>\n</cpu>\n")
        }, expected: { "\($0):1: \(doctype)" }),
        // UTF-16 is not seen by the byte scan for a DOCTYPE; the parser stops
        // at the internal subset, before any entity is declared or used.
        HostileDocument(name: "external entity in UTF-16", bytes: {
            utf16("<!DOCTYPE cpu [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n<cpu><model>&xxe;</model></cpu>\n")
        }, expected: { "\($0):1: \(doctype)" }, expectedAsDomain: { "\($0): is UTF-16 or UTF-32; libvirt reads a domain only as UTF-8 (convert it: iconv -t UTF-8)" }),
        HostileDocument(name: "quadratic blowup in UTF-16", bytes: {
            utf16(quadraticSubset + "\n<cpu>\n  <model>" + quadraticReferences + "</model>\n</cpu>\n")
        }, expected: { "\($0):1: \(doctype)" }, expectedAsDomain: { "\($0): is UTF-16 or UTF-32; libvirt reads a domain only as UTF-8 (convert it: iconv -t UTF-8)" }),
        HostileDocument(name: "200,000-deep nesting", bytes: { utf8("<cpu>\n" + deepNesting + "\n</cpu>\n") },
                        expected: { "\($0):2: \(HostileInputTests.tooDeep)" }),
        HostileDocument(name: "200,000-deep nesting in a domain", bytes: {
            utf8("<domain type='kvm'>\n  <name>deep</name>\n  <cpu mode='host-model'>\n" + deepNesting + "\n  </cpu>\n</domain>\n")
        }, expected: { "\($0):4: \(HostileInputTests.tooDeep)" }),
        HostileDocument(name: "empty file", bytes: { [] }, expected: { "\($0): the file is empty" }),
        HostileDocument(name: "white space only", bytes: { utf8(" \n\t\r\n  \n") }, expected: { "\($0): the file is empty" }),
        HostileDocument(name: "non-UTF-8 bytes", bytes: { utf8("<cpu>\n  <model>Has") + [0xFF, 0xFE, 0xC0] + utf8("well</model>\n</cpu>\n") },
                        expected: { "\($0):2: Input is not proper UTF-8, indicate encoding !" },
                        expectedAsDomain: { "\($0):2: not valid UTF-8, which is how libvirt reads a domain" }),
        HostileDocument(name: "a NUL byte", bytes: { utf8("<cpu>\n  <model>Has") + [0] + utf8("well</model>\n</cpu>\n") },
                        expected: { "\($0):2: Char 0x0 out of allowed range" }, expectedAsDomain: { "\($0):2: \(nulByte)" }),
        HostileDocument(name: "UTF-16 without a byte order mark", bytes: {
            Array(utf16("<cpu>\n  <model>Haswell</model>\n</cpu>\n").dropFirst(2))
        }, expected: { "\($0):1: Char 0x0 out of allowed range" }, expectedAsDomain: { "\($0): is UTF-16 or UTF-32; libvirt reads a domain only as UTF-8 (convert it: iconv -t UTF-8)" }),
        HostileDocument(name: "binary garbage, seed 1", bytes: { garbage(seed: 1) },
                        expected: { "\($0):1: Start tag expected, '<' not found" },
                        expectedAsDomain: { "\($0):\(lineOfFirstNUL(garbage(seed: 1))): \(nulByte)" }, exactWording: false),
        HostileDocument(name: "binary garbage, seed 2", bytes: { garbage(seed: 2) },
                        expected: { "\($0):1: Start tag expected, '<' not found" },
                        expectedAsDomain: { "\($0):\(lineOfFirstNUL(garbage(seed: 2))): \(nulByte)" }, exactWording: false),
        HostileDocument(name: "binary garbage after a start tag, seed 3", bytes: { utf8("<cpu>\n") + garbage(seed: 3) },
                        expected: { "\($0):2: Input is not proper UTF-8, indicate encoding !" }, exactWording: false),
        HostileDocument(name: "a CPU map given as a CPU", bytes: { utf8("""
            <cpus>
              <arch name='x86'>
                <feature name='sse'>
                  <cpuid eax_in='0x01' edx='0x02000000'/>
                </feature>
                <model name='Tiny'>
                  <feature name='sse'/>
                </model>
              </arch>
            </cpus>

            """) }, expected: { "\($0): no CPU definition found" },
            expectedAsDomain: { "\($0):1: not a domain definition (the root element is <cpus>)" }),
    ]
}

// MARK: - Documents read as CPUs and patched as domains

extension HostileInputTests {
    @Suite struct Documents {
        @Test(arguments: HostileDocument.all)
        func readAsACPU(_ document: HostileDocument) throws {
            let scratch = Scratch()
            defer { scratch.remove() }
            let path = scratch.file("input.xml", document.bytes())
            expectRefusal(of: document, at: path, expected: document.expected(path)) { () throws(CPUCompatError) in
                _ = try map.readSingleCPU(contentsOf: path)
            }
        }

        @Test(arguments: HostileDocument.all)
        func readFromMemory(_ document: HostileDocument) throws {
            let bytes = document.bytes()
            expectRefusal(of: document, at: "memory.xml", expected: document.expected("memory.xml")) { () throws(CPUCompatError) in
                _ = try CPUDefinitionReader.read(bytes, path: "memory.xml")
            }
        }

        @Test(arguments: HostileDocument.all)
        func patchedAsADomain(_ document: HostileDocument) throws {
            let (plan, architecture) = try storyPlan()
            let bytes = document.bytes()
            let expected = (document.expectedAsDomain ?? document.expected)("domain.xml")
            expectRefusal(of: document, at: "domain.xml", expected: expected) { () throws(CPUCompatError) in
                _ = try DomainPatcher.patch(bytes, path: "domain.xml", plan: plan, architecture: architecture)
            }
        }

        /// What `patch --in-place` does: the file stays byte for byte, and no temporary file is left.
        @Test(arguments: HostileDocument.all)
        func patchedInPlace(_ document: HostileDocument) throws {
            let (plan, architecture) = try storyPlan()
            let scratch = Scratch()
            defer { scratch.remove() }
            let bytes = document.bytes()
            let path = scratch.file("guest.xml", bytes)
            let expected = (document.expectedAsDomain ?? document.expected)(path)
            expectRefusal(of: document, at: path, expected: expected) { () throws(CPUCompatError) in
                try SafeFileUpdate.update(path) { (old: [UInt8]) throws(CPUCompatError) -> [UInt8] in
                    try DomainPatcher.patch(old, path: path, plan: plan, architecture: architecture).patched
                }
            }
            #expect(contents(path) == bytes)
            #expect(scratch.entries == ["guest.xml"])
        }

        /// A valid CPU in UTF-16 with a byte order mark is read like its UTF-8 original.
        @Test func utf16WithAByteOrderMarkIsRead() throws {
            let scratch = Scratch()
            defer { scratch.remove() }
            let text = try String(contentsOfFile: TestPaths.fixture("kvm02.xml"), encoding: .utf8)
            let path = scratch.file("kvm02-utf16.xml", HostileDocument.utf16(text))
            let cpu = try map.readSingleCPU(contentsOf: path)
            let original = try map.readSingleCPU(contentsOf: TestPaths.fixture("kvm02.xml"))
            #expect(cpu.model?.name == "Haswell-noTSX-IBRS")
            #expect(cpu.features == original.features)
        }

        /// Billion laughs in UTF-16 gets past the byte scan; libxml2's entity
        /// checks stop it. The wording is libxml2's (see the report in
        /// HostileInputCommandTests), so only the form is checked here.
        @Test(arguments: [
            ("\n<cpu>\n  <model>&lol9;</model>\n</cpu>\n", "element"),
            ("\n<cpu mode='&lol9;'>\n  <model>Haswell</model>\n</cpu>\n", "attribute"),
        ])
        func billionLaughsInUTF16IsRefused(body: String, place: String) throws {
            let scratch = Scratch()
            defer { scratch.remove() }
            let path = scratch.file("laughs-\(place).xml", HostileDocument.utf16(HostileDocument.laughsSubset + body))
            expectRefusal(prefix: path + ":") { () throws(CPUCompatError) in
                _ = try map.readSingleCPU(contentsOf: path)
            }
        }
    }
}

// MARK: - Truncated documents

extension HostileInputTests {
    /// The innermost element open at the end of `bytes` (local name, line of
    /// its start tag), for the simple XML of the fixtures; nil inside a comment
    /// or tag.
    static func innermostOpenElement(_ bytes: [UInt8]) -> (name: String, line: Int)? {
        var stack: [(String, Int)] = []
        var index = 0, line = 1
        func find(_ terminator: String, from start: Int) -> Int? {
            let pattern = Array(terminator.utf8)
            var at = start
            while at + pattern.count <= bytes.count {
                if bytes[at..<at + pattern.count].elementsEqual(pattern) { return at }
                at += 1
            }
            return nil
        }
        func lines(_ range: Range<Int>) -> Int { bytes[range].filter { $0 == 0x0A }.count }
        while index < bytes.count {
            if bytes[index] == 0x0A { line += 1; index += 1; continue }
            guard bytes[index] == UInt8(ascii: "<") else { index += 1; continue }
            let rest = bytes[index...]
            let terminator = rest.starts(with: Array("<!--".utf8)) ? "-->" : rest.starts(with: Array("<?".utf8)) ? "?>" : ">"
            guard let end = find(terminator, from: index + 1) else { return nil }
            let tag = Array(bytes[(index + 1)..<end])
            if terminator == ">" {
                if tag.first == UInt8(ascii: "/") {
                    _ = stack.popLast()
                } else if tag.last != UInt8(ascii: "/") {
                    let name = String(decoding: tag.prefix { ![0x20, 0x09, 0x0A, 0x0D, UInt8(ascii: "/")].contains($0) }, as: UTF8.self)
                    stack.append((String(name.split(separator: ":").last ?? ""), line))
                }
            }
            line += lines(index..<end)
            index = end + terminator.utf8.count
        }
        return stack.last.map { (name: $0.0, line: $0.1) }
    }

    @Suite struct Truncation {
        static let fixtures = ["kvm02.xml", "kvm03-domcaps.xml", "guest01.xml"]

        /// Cut right after line `k`: libxml2 reports the end of data on the
        /// next line, naming the element still open.
        @Test(arguments: fixtures)
        func cutAtTheEndOfALine(_ fixture: String) throws {
            let original = try #require(contents(TestPaths.fixture(fixture)))
            let lineEnds = original.indices.filter { original[$0] == 0x0A }
            var random = HostileRandom(seed: 7)
            let chosen = [lineEnds[8], lineEnds[lineEnds.count / 2], lineEnds[lineEnds.count - 2]]
                + (0..<5).map { _ in lineEnds[Int.random(in: 8..<(lineEnds.count - 1), using: &random)] }
            let scratch = Scratch()
            defer { scratch.remove() }
            for end in chosen {
                let cut = Array(original[...end])
                let open = try #require(innermostOpenElement(cut), "cut after byte \(end)")
                let path = scratch.file("cut-\(end).xml", cut)
                let lineAfter = cut.filter { $0 == 0x0A }.count + 1
                let expected = "\(path):\(lineAfter): Premature end of data in tag \(open.name) line \(open.line)"
                expectRefusal(expected) { () throws(CPUCompatError) in _ = try map.readSingleCPU(contentsOf: path) }
            }
        }

        /// Cut anywhere: the wording depends on where, the line is the one the cut is on.
        @Test(arguments: fixtures)
        func cutMidLine(_ fixture: String) throws {
            let original = try #require(contents(TestPaths.fixture(fixture)))
            var random = HostileRandom(seed: 11)
            let scratch = Scratch()
            defer { scratch.remove() }
            let offsets = [1, 2, 10, 100, original.count - 3]
                + (0..<15).map { _ in Int.random(in: 1..<(original.count - 3), using: &random) }
            for offset in offsets {
                let cut = Array(original[..<offset])
                let path = scratch.file("cut-\(offset).xml", cut)
                let line = cut.filter { $0 == 0x0A }.count + 1
                expectRefusal(prefix: "\(path):\(line): ") { () throws(CPUCompatError) in
                    _ = try map.readSingleCPU(contentsOf: path)
                }
            }
        }
    }
}

// MARK: - Paths that are not readable files

extension HostileInputTests {
    @Suite struct Paths {
        @Test func aDirectory() {
            let scratch = Scratch()
            defer { scratch.remove() }
            let folder = scratch.path("hosts.xml")
            mkdir(folder, 0o755)
            expectRefusal("\(folder): is a directory, not a file") { () throws(CPUCompatError) in
                _ = try map.readSingleCPU(contentsOf: folder)
            }
        }

        @Test func aMissingFile() {
            let scratch = Scratch()
            defer { scratch.remove() }
            let path = scratch.path("gone.xml")
            expectRefusal("\(path): no such file or directory") { () throws(CPUCompatError) in
                _ = try map.readSingleCPU(contentsOf: path)
            }
        }

        @Test(.disabled(if: geteuid() == 0,
                        "runs as root, and chmod 000 does not stop root from reading; HostileInputCommandTests covers it with setpriv"))
        func anUnreadableFile() throws {
            let scratch = Scratch()
            defer { scratch.remove() }
            let path = scratch.file("secret.xml", try #require(contents(TestPaths.fixture("kvm02.xml"))))
            chmod(path, 0)
            expectRefusal("\(path): permission denied") { () throws(CPUCompatError) in
                _ = try map.readSingleCPU(contentsOf: path)
            }
        }
    }
}

// MARK: - CPU maps

extension HostileInputTests {
    /// A small, valid CPU map folder: vendors, features and models in their own files.
    static let mapFiles: [String: String] = [
        "index.xml": """
            <cpus>
              <arch name='x86'>
                <include filename='x86_vendors.xml'/>
                <include filename='x86_features.xml'/>
                <include filename='x86_models.xml'/>
              </arch>
            </cpus>

            """,
        "x86_vendors.xml": """
            <cpus>
              <vendor name='Intel' string='GenuineIntel'/>
            </cpus>

            """,
        "x86_features.xml": """
            <cpus>
              <feature name='fpu'>
                <cpuid eax_in='0x01' edx='0x00000001'/>
              </feature>
              <feature name='vme'>
                <cpuid eax_in='0x01' edx='0x00000002'/>
              </feature>
            </cpus>

            """,
        "x86_models.xml": """
            <cpus>
              <model name='Tiny'>
                <vendor name='Intel'/>
                <feature name='fpu'/>
              </model>
            </cpus>

            """,
    ]

    /// Writes the small map to a new folder of `scratch`, with `changes` applied.
    static func writeMap(in scratch: Scratch, _ name: String, changing changes: [String: String] = [:]) -> String {
        let folder = scratch.path(name)
        mkdir(folder, 0o755)
        for (file, text) in mapFiles.merging(changes, uniquingKeysWith: { $1 }) {
            FileManager.default.createFile(atPath: folder + "/" + file, contents: Data(text.utf8))
        }
        return folder
    }

    static func index(including third: String) -> String {
        mapFiles["index.xml", default: ""].replacingOccurrences(of: "x86_models.xml", with: third)
    }

    @Suite struct Maps {
        @Test func theSmallMapLoads() throws {
            let scratch = Scratch()
            defer { scratch.remove() }
            let map = try CPUMap(contentsOf: writeMap(in: scratch, "good"))
            #expect(map.x86?.model(named: "Tiny") != nil)
        }

        @Test func aDuplicateFeature() {
            let scratch = Scratch()
            defer { scratch.remove() }
            let folder = writeMap(in: scratch, "map", changing: ["x86_features.xml": """
                <cpus>
                  <feature name='fpu'>
                    <cpuid eax_in='0x01' edx='0x00000001'/>
                  </feature>
                  <feature name='fpu'>
                    <cpuid eax_in='0x01' edx='0x00000004'/>
                  </feature>
                </cpus>

                """])
            expectRefusal("\(folder)/x86_features.xml:5: CPU feature fpu is defined twice") { () throws(CPUCompatError) in
                _ = try CPUMap(contentsOf: folder)
            }
        }

        @Test func aDuplicateModel() {
            let scratch = Scratch()
            defer { scratch.remove() }
            let folder = writeMap(in: scratch, "map", changing: ["x86_models.xml": """
                <cpus>
                  <model name='Tiny'>
                    <feature name='fpu'/>
                  </model>
                  <model name='Tiny'>
                    <feature name='vme'/>
                  </model>
                </cpus>

                """])
            expectRefusal("\(folder)/x86_models.xml:5: CPU model Tiny is defined twice") { () throws(CPUCompatError) in
                _ = try CPUMap(contentsOf: folder)
            }
        }

        @Test(arguments: ["../../etc/passwd", "/etc/passwd", "..", "sub/x86_models.xml"])
        func anIncludeOutsideTheFolder(_ include: String) {
            let scratch = Scratch()
            defer { scratch.remove() }
            let folder = writeMap(in: scratch, "map", changing: ["index.xml": index(including: include)])
            expectRefusal("\(folder)/index.xml:5: include '\(include)' points outside the CPU map folder") { () throws(CPUCompatError) in
                _ = try CPUMap(contentsOf: folder)
            }
        }

        @Test func anIncludeOfAMissingFile() {
            let scratch = Scratch()
            defer { scratch.remove() }
            let folder = writeMap(in: scratch, "map", changing: ["index.xml": index(including: "x86_gone.xml")])
            expectRefusal("\(folder)/index.xml:5: include 'x86_gone.xml': no such file or directory") { () throws(CPUCompatError) in
                _ = try CPUMap(contentsOf: folder)
            }
        }

        /// A symbolic link inside the folder is followed (as libvirt does), but
        /// nothing of what it points at reaches the diagnostic.
        @Test func anIncludeThatIsALinkToPasswd() {
            let scratch = Scratch()
            defer { scratch.remove() }
            let folder = writeMap(in: scratch, "map", changing: ["index.xml": index(including: "x86_evil.xml")])
            symlink("/etc/passwd", folder + "/x86_evil.xml")
            expectRefusal("\(folder)/x86_evil.xml:1: Start tag expected, '<' not found") { () throws(CPUCompatError) in
                _ = try CPUMap(contentsOf: folder)
            }
        }

        @Test func anIndexWithADoctype() {
            let scratch = Scratch()
            defer { scratch.remove() }
            let hostile = "<!DOCTYPE cpus [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n"
                + mapFiles["index.xml", default: ""].replacingOccurrences(of: "name='x86'", with: "name='&xxe;'")
            let folder = writeMap(in: scratch, "map", changing: ["index.xml": hostile])
            expectRefusal("\(folder)/index.xml:1: \(doctypeRefused)") { () throws(CPUCompatError) in
                _ = try CPUMap(contentsOf: folder)
            }
        }

        @Test func anIncludedFileWithADoctype() {
            let scratch = Scratch()
            defer { scratch.remove() }
            let hostile = "<?xml version='1.0'?>\n" + HostileDocument.laughsSubset.replacingOccurrences(of: "cpu [", with: "cpus [")
                + "\n<cpus>\n  <vendor name='&lol9;'/>\n</cpus>\n"
            let folder = writeMap(in: scratch, "map", changing: ["x86_vendors.xml": hostile])
            expectRefusal("\(folder)/x86_vendors.xml:2: \(doctypeRefused)") { () throws(CPUCompatError) in
                _ = try CPUMap(contentsOf: folder)
            }
        }

        @Test func aLegacyMapFileWithADoctype() {
            let scratch = Scratch()
            defer { scratch.remove() }
            let path = scratch.file("cpu_map.xml", Array("""
                <!DOCTYPE cpus SYSTEM "http://127.0.0.1:9/x.dtd">
                <cpus><arch name='x86'><feature name='fpu'/></arch></cpus>

                """.utf8))
            expectRefusal("\(path):1: \(doctypeRefused)") { () throws(CPUCompatError) in
                _ = try CPUMap.resolve(explicitPath: path)
            }
        }

        @Test func anEmptyFolder() {
            let scratch = Scratch()
            defer { scratch.remove() }
            let folder = scratch.path("empty")
            mkdir(folder, 0o755)
            expectRefusal("\(folder): not a CPU map folder (it has no index.xml)") { () throws(CPUCompatError) in
                _ = try CPUMap.resolve(explicitPath: folder)
            }
        }

        @Test func aMissingFolder() {
            let scratch = Scratch()
            defer { scratch.remove() }
            let folder = scratch.path("nowhere")
            expectRefusal("\(folder): no such CPU map folder or file") { () throws(CPUCompatError) in
                _ = try CPUMap.resolve(explicitPath: folder)
            }
        }
    }
}
