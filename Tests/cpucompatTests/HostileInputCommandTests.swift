import Foundation
import Testing

// Hostile and broken input through the built binary: `cpucompat baseline`,
// `diff` (the file as source and as destination), `patch` (the file as the
// domain and as a host) and `patch --in-place` must each print exactly one
// line on standard error, `cpucompat: FILE:LINE: what is wrong` (or
// `cpucompat: FILE: …` where no line is known), nothing on standard output,
// exit with status 2 (bad input), never show the content of a file the input
// points at (/etc/passwd), and finish: a run still going after 60 s is killed
// and fails (a hang guard, not a speed test; speed is for the benchmarks).
// `patch --in-place` must leave the file byte for byte as it was, with no
// temporary file beside it.
//
// Every crafted input is generated here and written to a scratch folder;
// none is stored under Fixtures. HostileInputTests checks the same kinds of
// input through the library.

@Suite struct HostileInputCommandTests {}

// MARK: - Running the binary

extension HostileInputCommandTests {
    /// A run still going after this long is killed, so a hang fails the test
    /// instead of the whole suite. Generous on purpose: the suite must pass on
    /// a 2-core machine that is busy with something else.
    static let watchdog: Double = 60

    static let storyHosts = ["--host", "Fixtures/kvm02.xml", "--host", "Fixtures/kvm03.xml"]
    static let doctypeRefused = "a DOCTYPE is not accepted (cpucompat reads libvirt XML, which has none)"
    static let tooDeep = "the elements nest too deeply (libxml2's limit is 256 levels)"

    /// Text that must never appear in any output: the start of /etc/passwd's
    /// first line ("root:x:0:0"), the file the hostile documents point at.
    static let leakMarker: String = {
        let text = (try? String(contentsOfFile: "/etc/passwd", encoding: .utf8)) ?? ""
        let first = text.split(separator: "\n").first.map { String($0.prefix(10)) } ?? ""
        return first.count == 10 ? first : "root:x:0:0"
    }()

    struct WatchedRun {
        var status: Int32
        var exited: Bool
        var stdout: String
        var stderr: String
    }

    /// Runs cpucompat like `CLI.run` (in the package root, without
    /// `$CPUCOMPAT_CPU_MAP`), killing it after `watchdog`
    /// seconds. Both pipes are drained at once, so a flood on standard error
    /// cannot block the child. With `asUser`, runs as that uid through setpriv.
    static func run(_ arguments: [String], environment: [String: String] = [:], asUser uid: Int? = nil) throws -> WatchedRun {
        let process = Process()
        if let uid {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            process.arguments = ["--reuid=\(uid)", "--regid=\(uid)", "--clear-groups", CLI.binary] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: CLI.binary)
            process.arguments = arguments
        }
        process.currentDirectoryURL = URL(fileURLWithPath: CLI.package)
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "CPUCOMPAT_CPU_MAP")
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let pid = process.processIdentifier
        let watch = DispatchWorkItem { kill(pid, SIGKILL) }
        DispatchQueue.global().asyncAfter(deadline: .now() + watchdog, execute: watch)
        let errorOutput = CappedOutput()
        let drained = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            errorOutput.drain(err.fileHandleForReading, pid: pid)
            drained.signal()
        }
        let standardOutput = CappedOutput()
        standardOutput.drain(out.fileHandleForReading, pid: pid)
        drained.wait()
        process.waitUntilExit()
        watch.cancel()
        return WatchedRun(status: process.terminationStatus, exited: process.terminationReason == .exit,
                        stdout: standardOutput.text, stderr: errorOutput.text)
    }

    /// The first 64 KB of a stream, and its length. A child that floods a
    /// stream past 1 MB (an expanded entity) is killed: the run has failed
    /// anyway, and a gigabyte in memory helps no one.
    final class CappedOutput: @unchecked Sendable {
        static let kept = 65536
        static let killAfter = 1 << 20
        private(set) var data = Data()
        private(set) var total = 0

        func drain(_ handle: FileHandle, pid: pid_t) {
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { return }
                total += chunk.count
                if data.count < Self.kept { data.append(chunk.prefix(Self.kept - data.count)) }
                if total > Self.killAfter { kill(pid, SIGKILL) }
            }
        }

        var text: String {
            let start = String(decoding: data, as: UTF8.self)
            return total > data.count ? start + "… (\(total) bytes in all)" : start
        }
    }

    /// What a refusal must look like. `exactly`: the whole line after
    /// `cpucompat: `; `at`: only its location (`FILE:LINE: `), for messages
    /// whose words are libxml2's and depend on arbitrary bytes.
    enum Expected {
        case exactly(String)
        case at(String)
    }

    /// Runs `arguments` and checks the refusal.
    static func expectRefusal(_ arguments: [String], _ expected: Expected, environment: [String: String] = [:],
                              asUser uid: Int? = nil, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let run = try run(arguments, environment: environment, asUser: uid)
        let command = arguments.joined(separator: " ")
        #expect(run.exited, "killed by signal \(run.status) (this test kills runs that write over 1 MB or last \(Int(watchdog)) s): \(command)",
                sourceLocation: sourceLocation)
        #expect(run.status == 2, "exit status \(run.status): \(command)", sourceLocation: sourceLocation)
        #expect(run.stdout.isEmpty, "stdout of \(command): \(run.stdout.prefix(300))", sourceLocation: sourceLocation)
        #expect(!run.stdout.contains(leakMarker) && !run.stderr.contains(leakMarker),
                "leaked /etc/passwd: \(command)", sourceLocation: sourceLocation)
        let lines = run.stderr.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 2 && lines.last == "", "not one line on stderr: \(run.stderr.prefix(500))",
                sourceLocation: sourceLocation)
        switch expected {
        case .exactly(let line):
            let matches = run.stderr == "cpucompat: \(line)\n"
            #expect(matches, "\(command): got \(run.stderr.prefix(500)), expected cpucompat: \(line)", sourceLocation: sourceLocation)
        case .at(let location):
            #expect(run.stderr.hasPrefix("cpucompat: \(location)") && run.stderr.count > "cpucompat: \(location)\n".count,
                    "\(command): \(run.stderr.prefix(500))", sourceLocation: sourceLocation)
        }
    }

    /// A scratch folder, removed by `remove()`.
    struct Scratch {
        let folder: String = {
            let path = NSTemporaryDirectory() + "cpucompat-hostile-" + UUID().uuidString
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

        /// The folder's entries, hidden temporary files included.
        var entries: [String] { ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted() }

        func remove() { try? FileManager.default.removeItem(atPath: folder) }
    }

    static func contents(_ path: String) -> [UInt8]? {
        FileManager.default.contents(atPath: path).map(Array.init)
    }

    /// Runs `patch --in-place` on `bytes` written to a fresh folder and checks
    /// the refusal, that the file kept every byte and that no temporary file is left.
    static func expectInPlaceRefusal(_ bytes: [UInt8], name: String = "guest01.xml", extra: [String] = [],
                                     _ expected: (String) -> Expected,
                                     sourceLocation: SourceLocation = #_sourceLocation) throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let path = scratch.file(name, bytes)
        try expectRefusal(["patch", "--in-place", path] + storyHosts + extra, expected(path), sourceLocation: sourceLocation)
        #expect(contents(path) == bytes, "the domain changed", sourceLocation: sourceLocation)
        #expect(scratch.entries == [name], "left behind: \(scratch.entries)", sourceLocation: sourceLocation)
    }
}

// MARK: - The catalogue of hostile documents

/// A seeded generator (SplitMix64), so "random" bytes are the same on every run.
struct HostileCommandRandom: RandomNumberGenerator {
    private var generator: SplitMix64

    init(seed: UInt64) { generator = SplitMix64(seed: seed) }

    mutating func next() -> UInt64 { generator.next() }
}

/// One crafted document and the line cpucompat must print for it.
struct HostileCommandDocument: Sendable, CustomTestStringConvertible {
    typealias Expected = HostileInputCommandTests.Expected

    let name: String
    let bytes: @Sendable () -> [UInt8]
    /// The diagnostic, given the path, when the file is read for its CPU.
    let expected: @Sendable (String) -> String
    /// The diagnostic when the file is patched as a domain, where it differs.
    var expectedAsDomain: (@Sendable (String) -> String)? = nil
    /// False where the words are libxml2's and depend on arbitrary bytes: then only the location is checked.
    var exactWording = true

    var testDescription: String { name }

    func expectation(_ path: String, asDomain: Bool = false) -> Expected {
        let line = ((asDomain ? expectedAsDomain : nil) ?? expected)(path)
        guard !exactWording else { return .exactly(line) }
        let afterPath = line.dropFirst(path.count)
        return .at(afterPath.range(of: ": ").map { path + afterPath[..<$0.upperBound] } ?? line)
    }

    static let doctype = HostileInputCommandTests.doctypeRefused

    static let laughsSubset: String = {
        var lines = ["<!DOCTYPE cpu [", "  <!ENTITY lol \"lol\">"]
        for level in 1...9 {
            let inner = level == 1 ? "&lol;" : "&lol\(level - 1);"
            lines.append("  <!ENTITY lol\(level) \"\(String(repeating: inner, count: 10))\">")
        }
        lines.append("]>")
        return lines.joined(separator: "\n")
    }()

    static let quadraticSubset = "<!DOCTYPE cpu [\n  <!ENTITY a \"" + String(repeating: "a", count: 100_000) + "\">\n]>"
    static let quadraticReferences = String(repeating: "&a;", count: 10_000)
    static let deepNesting = String(repeating: "<a>", count: 200_000) + String(repeating: "</a>", count: 200_000)

    static func utf8(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// libvirt reads a domain as a C string, so a NUL byte ends it early.
    static let nulByte = "holds a NUL byte, where libvirt would stop reading the file"
    static func lineOfFirstNUL(_ bytes: [UInt8]) -> Int {
        1 + bytes.prefix { $0 != 0 }.filter { $0 == 0x0A }.count
    }
    static func utf16(_ text: String) -> [UInt8] { [0xFF, 0xFE] + text.utf16.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] } }

    static func garbage(seed: UInt64, count: Int = 4096) -> [UInt8] {
        var random = HostileCommandRandom(seed: seed)
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &random) }
    }

    /// guest01.xml with an internal subset declaring `xxe` as /etc/passwd on
    /// line 7 (after its comment), and `replacing` rewritten to use it.
    static func guestWithExternalEntity(replacing old: String, with new: String) -> [UInt8] {
        let guest = (try? String(contentsOfFile: CLI.fixture("guest01.xml"), encoding: .utf8)) ?? ""
        var lines = guest.components(separatedBy: "\n")
        lines.insert("<!DOCTYPE domain [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>", at: 6)
        return utf8(lines.joined(separator: "\n").replacingOccurrences(of: old, with: new))
    }

    static let all: [HostileCommandDocument] = [
        HostileCommandDocument(name: "external entity in an element", bytes: { utf8("""
            <?xml version="1.0"?>
            <!DOCTYPE cpu [
              <!ENTITY xxe SYSTEM "file:///etc/passwd">
            ]>
            <cpu>
              <model>&xxe;</model>
            </cpu>

            """) }, expected: { "\($0):2: \(doctype)" }),
        HostileCommandDocument(name: "external entity in an attribute", bytes: { utf8("""
            <!DOCTYPE cpu [<!ENTITY xxe SYSTEM "/etc/passwd">]>
            <cpu mode='&xxe;'>
              <model>Haswell</model>
            </cpu>

            """) }, expected: { "\($0):1: \(doctype)" }),
        HostileCommandDocument(name: "external entity in a domain's element", bytes: {
            guestWithExternalEntity(replacing: "<name>guest01</name>", with: "<name>&xxe;</name>")
        }, expected: { "\($0):7: \(doctype)" }),
        HostileCommandDocument(name: "external entity in a domain's attribute", bytes: {
            guestWithExternalEntity(replacing: "<domain type='kvm'>", with: "<domain type='&xxe;'>")
        }, expected: { "\($0):7: \(doctype)" }),
        HostileCommandDocument(name: "external parameter entity after a comment", bytes: { utf8("""
            <!-- a comment
                 over two lines -->
            <?some-instruction with="data"?>
            <!DOCTYPE cpu [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>
            <cpu><model>Haswell</model></cpu>

            """) }, expected: { "\($0):4: \(doctype)" }),
        HostileCommandDocument(name: "external DTD over HTTP", bytes: { utf8("""
            <!DOCTYPE cpu SYSTEM "http://127.0.0.1:9/x.dtd">
            <cpu><model>Haswell</model></cpu>

            """) }, expected: { "\($0):1: \(doctype)" }),
        HostileCommandDocument(name: "external DTD from a file", bytes: { utf8("""
            <?xml version="1.0" encoding="UTF-8"?>

            <!DOCTYPE cpu SYSTEM "file:///etc/passwd">
            <cpu><model>Haswell</model></cpu>

            """) }, expected: { "\($0):3: \(doctype)" }),
        HostileCommandDocument(name: "billion laughs in an element", bytes: {
            utf8("<?xml version=\"1.0\"?>\n" + laughsSubset + "\n<cpu>\n  <model>&lol9;</model>\n</cpu>\n")
        }, expected: { "\($0):2: \(doctype)" }),
        HostileCommandDocument(name: "billion laughs in an attribute", bytes: {
            utf8(laughsSubset + "\n<cpu mode='&lol9;'>\n  <model>Haswell</model>\n</cpu>\n")
        }, expected: { "\($0):1: \(doctype)" }),
        HostileCommandDocument(name: "quadratic blowup in an element", bytes: {
            utf8(quadraticSubset + "\n<cpu>\n  <model>" + quadraticReferences + "</model>\n</cpu>\n")
        }, expected: { "\($0):1: \(doctype)" }),
        HostileCommandDocument(name: "quadratic blowup in an attribute", bytes: {
            utf8(quadraticSubset + "\n<cpu mode='" + quadraticReferences + "'>\n  <model>Haswell</model>\n</cpu>\n")
        }, expected: { "\($0):1: \(doctype)" }),
        // UTF-16 passes the byte scan for a DOCTYPE; the parser stops at the
        // internal subset, before any entity is declared or used.
        HostileCommandDocument(name: "external entity in UTF-16", bytes: {
            utf16("<!DOCTYPE cpu [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n<cpu><model>&xxe;</model></cpu>\n")
        }, expected: { "\($0):1: \(doctype)" }, expectedAsDomain: { "\($0): is UTF-16 or UTF-32; libvirt reads a domain only as UTF-8 (convert it: iconv -t UTF-8)" }),
        HostileCommandDocument(name: "quadratic blowup in UTF-16", bytes: {
            utf16(quadraticSubset + "\n<cpu>\n  <model>" + quadraticReferences + "</model>\n</cpu>\n")
        }, expected: { "\($0):1: \(doctype)" }, expectedAsDomain: { "\($0): is UTF-16 or UTF-32; libvirt reads a domain only as UTF-8 (convert it: iconv -t UTF-8)" }),
        HostileCommandDocument(name: "200,000-deep nesting", bytes: { utf8("<cpu>\n" + deepNesting + "\n</cpu>\n") },
                               expected: { "\($0):2: \(HostileInputCommandTests.tooDeep)" }),
        HostileCommandDocument(name: "200,000-deep nesting in a domain", bytes: {
            utf8("<domain type='kvm'>\n  <name>deep</name>\n  <cpu mode='host-model'>\n" + deepNesting + "\n  </cpu>\n</domain>\n")
        }, expected: { "\($0):4: \(HostileInputCommandTests.tooDeep)" }),
        HostileCommandDocument(name: "empty file", bytes: { [] }, expected: { "\($0): the file is empty" }),
        HostileCommandDocument(name: "white space only", bytes: { utf8(" \n\t\r\n  \n") }, expected: { "\($0): the file is empty" }),
        HostileCommandDocument(name: "non-UTF-8 bytes", bytes: {
            utf8("<cpu>\n  <model>Has") + [0xFF, 0xFE, 0xC0] + utf8("well</model>\n</cpu>\n")
        }, expected: { "\($0):2: Input is not proper UTF-8, indicate encoding !" },
           expectedAsDomain: { "\($0):2: not valid UTF-8, which is how libvirt reads a domain" }),
        HostileCommandDocument(name: "a NUL byte", bytes: { utf8("<cpu>\n  <model>Has") + [0] + utf8("well</model>\n</cpu>\n") },
                               expected: { "\($0):2: Char 0x0 out of allowed range" },
                               expectedAsDomain: { "\($0):2: \(nulByte)" }),
        HostileCommandDocument(name: "UTF-16 without a byte order mark", bytes: {
            Array(utf16("<cpu>\n  <model>Haswell</model>\n</cpu>\n").dropFirst(2))
        }, expected: { "\($0):1: Char 0x0 out of allowed range" }, expectedAsDomain: { "\($0): is UTF-16 or UTF-32; libvirt reads a domain only as UTF-8 (convert it: iconv -t UTF-8)" }),
        HostileCommandDocument(name: "binary garbage, seed 1", bytes: { garbage(seed: 1) },
                               expected: { "\($0):1: Start tag expected, '<' not found" },
                               expectedAsDomain: { "\($0):\(lineOfFirstNUL(garbage(seed: 1))): \(nulByte)" }, exactWording: false),
        HostileCommandDocument(name: "binary garbage, seed 2", bytes: { garbage(seed: 2) },
                               expected: { "\($0):1: Start tag expected, '<' not found" },
                               expectedAsDomain: { "\($0):\(lineOfFirstNUL(garbage(seed: 2))): \(nulByte)" }, exactWording: false),
        HostileCommandDocument(name: "binary garbage after a start tag, seed 3", bytes: { utf8("<cpu>\n") + garbage(seed: 3) },
                               expected: { "\($0):2: Input is not proper UTF-8, indicate encoding !" }, exactWording: false),
        HostileCommandDocument(name: "a CPU map given as a CPU", bytes: { utf8("""
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

// MARK: - Documents through every command

extension HostileInputCommandTests {
    @Suite struct Documents {
        @Test(arguments: HostileCommandDocument.all)
        func baseline(_ document: HostileCommandDocument) throws {
            let scratch = Scratch()
            defer { scratch.remove() }
            let path = scratch.file("input.xml", document.bytes())
            try expectRefusal(["baseline", path], document.expectation(path))
            try expectRefusal(["baseline", "Fixtures/kvm02.xml", path], document.expectation(path))
        }

        @Test(arguments: HostileCommandDocument.all)
        func diff(_ document: HostileCommandDocument) throws {
            let scratch = Scratch()
            defer { scratch.remove() }
            let path = scratch.file("input.xml", document.bytes())
            try expectRefusal(["diff", path, "Fixtures/kvm03.xml"], document.expectation(path))
            try expectRefusal(["diff", "Fixtures/kvm02.xml", path], document.expectation(path))
        }

        @Test(arguments: HostileCommandDocument.all)
        func patch(_ document: HostileCommandDocument) throws {
            let scratch = Scratch()
            defer { scratch.remove() }
            let path = scratch.file("input.xml", document.bytes())
            try expectRefusal(["patch", path] + storyHosts, document.expectation(path, asDomain: true))
            try expectRefusal(["patch", "Fixtures/guest01.xml", "--host", path, "--host", "Fixtures/kvm03.xml"],
                              document.expectation(path))
        }

        @Test(arguments: HostileCommandDocument.all)
        func patchInPlace(_ document: HostileCommandDocument) throws {
            try expectInPlaceRefusal(document.bytes()) { document.expectation($0, asDomain: true) }
        }

        /// A hostile host leaves the domain being patched in place untouched too.
        @Test(arguments: HostileCommandDocument.all.prefix(4))
        func patchInPlaceWithAHostileHost(_ document: HostileCommandDocument) throws {
            let scratch = Scratch()
            defer { scratch.remove() }
            let host = scratch.file("host.xml", document.bytes())
            let guest = try #require(contents(CLI.fixture("guest01.xml")))
            try expectInPlaceRefusal(guest, extra: ["--host", host]) { _ in document.expectation(host) }
        }
    }
}

// MARK: - Truncated documents

extension HostileInputCommandTests {
    /// The innermost element open at the end of `bytes` (local name, line of
    /// its start tag), for the simple XML of the fixtures.
    static func innermostOpenElement(_ bytes: [UInt8]) -> (name: String, line: Int)? {
        var stack: [(String, Int)] = []
        var index = 0, line = 1
        func find(_ terminator: [UInt8], from start: Int) -> Int? {
            var at = start
            while at + terminator.count <= bytes.count {
                if bytes[at..<at + terminator.count].elementsEqual(terminator) { return at }
                at += 1
            }
            return nil
        }
        while index < bytes.count {
            if bytes[index] == 0x0A { line += 1; index += 1; continue }
            guard bytes[index] == UInt8(ascii: "<") else { index += 1; continue }
            let rest = bytes[index...]
            let terminator = Array((rest.starts(with: Array("<!--".utf8)) ? "-->" : rest.starts(with: Array("<?".utf8)) ? "?>" : ">").utf8)
            guard let end = find(terminator, from: index + 1) else { return nil }
            let tag = Array(bytes[(index + 1)..<end])
            if terminator == [UInt8(ascii: ">")] {
                if tag.first == UInt8(ascii: "/") {
                    _ = stack.popLast()
                } else if tag.last != UInt8(ascii: "/") {
                    let name = String(decoding: tag.prefix { ![0x20, 0x09, 0x0A, 0x0D, UInt8(ascii: "/")].contains($0) }, as: UTF8.self)
                    stack.append((String(name.split(separator: ":").last ?? ""), line))
                }
            }
            line += bytes[index..<end].filter { $0 == 0x0A }.count
            index = end + terminator.count
        }
        return stack.last.map { (name: $0.0, line: $0.1) }
    }

    /// Offsets just past a newline, chosen with a seed: the start, the middle, the end, and five more.
    static func lineCuts(_ bytes: [UInt8], seed: UInt64) -> [Int] {
        let ends = bytes.indices.filter { bytes[$0] == 0x0A }
        var random = HostileCommandRandom(seed: seed)
        return [ends[8], ends[ends.count / 2], ends[ends.count - 2]]
            + (0..<5).map { _ in ends[Int.random(in: 8..<(ends.count - 1), using: &random)] }
    }

    /// The diagnostic for `bytes` cut just after a newline: libxml2 reports the
    /// end of data on the next line, naming the element still open.
    static func endOfDataExpectation(_ cut: [UInt8], path: String) -> Expected? {
        guard let open = innermostOpenElement(cut) else { return nil }
        let line = cut.filter { $0 == 0x0A }.count + 1
        return .exactly("\(path):\(line): Premature end of data in tag \(open.name) line \(open.line)")
    }

    @Suite struct Truncation {
        @Test func hostCutAtTheEndOfALine() throws {
            let original = try #require(contents(CLI.fixture("kvm02.xml")))
            let scratch = Scratch()
            defer { scratch.remove() }
            for end in lineCuts(original, seed: 5) {
                let cut = Array(original[...end])
                let path = scratch.file("kvm02-cut-\(end).xml", cut)
                let expected = try #require(endOfDataExpectation(cut, path: path))
                try expectRefusal(["baseline", path], expected)
                try expectRefusal(["diff", path, "Fixtures/kvm03.xml"], expected)
                try expectRefusal(["patch", "Fixtures/guest01.xml", "--host", path], expected)
            }
        }

        @Test func domainCutAtTheEndOfALine() throws {
            let original = try #require(contents(CLI.fixture("guest01.xml")))
            let scratch = Scratch()
            defer { scratch.remove() }
            for end in lineCuts(original, seed: 6) {
                let cut = Array(original[...end])
                let path = scratch.file("guest01-cut-\(end).xml", cut)
                let expected = try #require(endOfDataExpectation(cut, path: path))
                try expectRefusal(["patch", path] + storyHosts, expected)
                try expectInPlaceRefusal(cut) { endOfDataExpectation(cut, path: $0) ?? .exactly("") }
            }
        }

        /// Cut anywhere: the words depend on where; the line is the one the cut is on.
        @Test(arguments: ["kvm02.xml", "guest01.xml"])
        func cutMidLine(_ fixture: String) throws {
            let original = try #require(contents(CLI.fixture(fixture)))
            var random = HostileCommandRandom(seed: 13)
            let scratch = Scratch()
            defer { scratch.remove() }
            let offsets = [1, 10, original.count - 3] + (0..<5).map { _ in Int.random(in: 1..<(original.count - 3), using: &random) }
            for offset in offsets {
                let cut = Array(original[..<offset])
                let path = scratch.file("cut-\(offset).xml", cut)
                let location = Expected.at("\(path):\(cut.filter { $0 == 0x0A }.count + 1): ")
                if fixture == "guest01.xml" {
                    try expectRefusal(["patch", path] + storyHosts, location)
                    try expectInPlaceRefusal(cut) { .at("\($0):\(cut.filter { $0 == 0x0A }.count + 1): ") }
                } else {
                    try expectRefusal(["baseline", path], location)
                    try expectRefusal(["diff", "Fixtures/kvm02.xml", path], location)
                }
            }
        }
    }
}

// MARK: - Paths that are not readable files

extension HostileInputCommandTests {
    @Suite struct Paths {
        @Test func aDirectory() throws {
            let scratch = Scratch()
            defer { scratch.remove() }
            let folder = scratch.path("hosts.xml")
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
            let expected = Expected.exactly("\(folder): is a directory, not a file")
            let emptyFolder = Expected.exactly("\(folder): is a folder without *.xml files")
            try expectRefusal(["baseline", folder], emptyFolder)
            try expectRefusal(["diff", folder, "Fixtures/kvm03.xml"], expected)
            try expectRefusal(["diff", "Fixtures/kvm02.xml", folder], expected)
            try expectRefusal(["patch", folder] + storyHosts, expected)
            try expectRefusal(["patch", "Fixtures/guest01.xml", "--host", folder], emptyFolder)
            try expectRefusal(["patch", "--in-place", folder] + storyHosts, .exactly("\(folder): is not a regular file"))
            #expect(scratch.entries == ["hosts.xml"])
        }

        @Test func aMissingFile() throws {
            let scratch = Scratch()
            defer { scratch.remove() }
            let path = scratch.path("gone.xml")
            let expected = Expected.exactly("\(path): no such file or directory")
            try expectRefusal(["baseline", path], expected)
            try expectRefusal(["diff", path, "Fixtures/kvm03.xml"], expected)
            try expectRefusal(["diff", "Fixtures/kvm02.xml", path], expected)
            try expectRefusal(["patch", path] + storyHosts, expected)
            try expectRefusal(["patch", "Fixtures/guest01.xml", "--host", path], expected)
            try expectRefusal(["patch", "--in-place", path] + storyHosts, expected)
            #expect(scratch.entries.isEmpty)
        }

        static let runsAsRoot = geteuid() == 0
        static let canDropPrivileges = FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")

        /// chmod 000 does not stop root, so as root the binary runs as
        /// nobody (uid 65534) through setpriv; first on the readable file, to
        /// show that only the mode stops it.
        @Test(.disabled(if: runsAsRoot && !canDropPrivileges,
                        "runs as root without /usr/bin/setpriv, and chmod 000 does not stop root from reading"))
        func anUnreadableFile() throws {
            let scratch = Scratch()
            defer { scratch.remove() }
            chmod(scratch.folder, 0o755)
            let uid: Int? = Self.runsAsRoot ? 65534 : nil
            let host = scratch.file("kvm02.xml", try #require(contents(CLI.fixture("kvm02.xml"))))
            chmod(host, 0o644)
            let readable = try run(["baseline", host], asUser: uid)
            #expect(readable.status == 0, "the readable file: \(readable.stderr)")
            chmod(host, 0)
            let expected = Expected.exactly("\(host): permission denied")
            try expectRefusal(["baseline", host], expected, asUser: uid)
            try expectRefusal(["diff", host, "Fixtures/kvm03.xml"], expected, asUser: uid)
            try expectRefusal(["diff", "Fixtures/kvm02.xml", host], expected, asUser: uid)
            try expectRefusal(["patch", "Fixtures/guest01.xml", "--host", host], expected, asUser: uid)
            try expectRefusal(["patch", "--in-place", host] + storyHosts, expected, asUser: uid)
            chmod(host, 0o644)
            #expect(contents(host) == contents(CLI.fixture("kvm02.xml")))
            #expect(scratch.entries == ["kvm02.xml"])
        }
    }
}

// MARK: - CPU maps

extension HostileInputCommandTests {
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
        "x86_vendors.xml": "<cpus>\n  <vendor name='Intel' string='GenuineIntel'/>\n</cpus>\n",
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
        "x86_models.xml": "<cpus>\n  <model name='Tiny'>\n    <vendor name='Intel'/>\n    <feature name='fpu'/>\n  </model>\n</cpus>\n",
    ]

    static func index(including third: String) -> String {
        mapFiles["index.xml", default: ""].replacingOccurrences(of: "x86_models.xml", with: third)
    }

    /// A broken map: the files changed from the small map, and the diagnostic given the map folder.
    struct BrokenMap: Sendable, CustomTestStringConvertible {
        let name: String
        var changes: [String: String] = [:]
        var link: (name: String, target: String)? = nil
        let expected: @Sendable (String) -> String
        var testDescription: String { name }

        static let all: [BrokenMap] = [
            BrokenMap(name: "a duplicate feature", changes: ["x86_features.xml": """
                <cpus>
                  <feature name='fpu'>
                    <cpuid eax_in='0x01' edx='0x00000001'/>
                  </feature>
                  <feature name='fpu'>
                    <cpuid eax_in='0x01' edx='0x00000004'/>
                  </feature>
                </cpus>

                """], expected: { "\($0)/x86_features.xml:5: CPU feature fpu is defined twice" }),
            BrokenMap(name: "a duplicate model", changes: ["x86_models.xml": """
                <cpus>
                  <model name='Tiny'>
                    <feature name='fpu'/>
                  </model>
                  <model name='Tiny'>
                    <feature name='vme'/>
                  </model>
                </cpus>

                """], expected: { "\($0)/x86_models.xml:5: CPU model Tiny is defined twice" }),
            BrokenMap(name: "an include of ../../etc/passwd", changes: ["index.xml": index(including: "../../etc/passwd")],
                      expected: { "\($0)/index.xml:5: include '../../etc/passwd' points outside the CPU map folder" }),
            BrokenMap(name: "an include of /etc/passwd", changes: ["index.xml": index(including: "/etc/passwd")],
                      expected: { "\($0)/index.xml:5: include '/etc/passwd' points outside the CPU map folder" }),
            BrokenMap(name: "an include of a missing file", changes: ["index.xml": index(including: "x86_gone.xml")],
                      expected: { "\($0)/index.xml:5: include 'x86_gone.xml': no such file or directory" }),
            BrokenMap(name: "an include that is a link to /etc/passwd",
                      changes: ["index.xml": index(including: "x86_evil.xml")], link: ("x86_evil.xml", "/etc/passwd"),
                      expected: { "\($0)/x86_evil.xml:1: Start tag expected, '<' not found" }),
            BrokenMap(name: "an index.xml with a DOCTYPE", changes: ["index.xml":
                "<!DOCTYPE cpus [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n"
                    + mapFiles["index.xml", default: ""].replacingOccurrences(of: "name='x86'", with: "name='&xxe;'")],
                      expected: { "\($0)/index.xml:1: \(doctypeRefused)" }),
            BrokenMap(name: "an included file with billion laughs", changes: ["x86_vendors.xml":
                "<?xml version='1.0'?>\n" + HostileCommandDocument.laughsSubset + "\n<cpus>\n  <vendor name='&lol9;'/>\n</cpus>\n"],
                      expected: { "\($0)/x86_vendors.xml:2: \(doctypeRefused)" }),
        ]

        /// Writes the map into `scratch` and returns its folder.
        func write(in scratch: Scratch) -> String {
            let folder = scratch.path("cpu_map")
            try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
            for (file, text) in mapFiles.merging(changes, uniquingKeysWith: { $1 }) {
                FileManager.default.createFile(atPath: folder + "/" + file, contents: Data(text.utf8))
            }
            if let link { symlink(link.target, folder + "/" + link.name) }
            return folder
        }
    }

    @Suite struct Maps {
        /// The small map works, so each broken one fails for its own reason.
        @Test func theSmallMapWorks() throws {
            let scratch = Scratch()
            defer { scratch.remove() }
            let folder = BrokenMap(name: "none", expected: { $0 }).write(in: scratch)
            let cpu = scratch.file("tiny.xml", Array("<cpu>\n  <model>Tiny</model>\n  <feature name='vme'/>\n</cpu>\n".utf8))
            let result = try run(["baseline", "--cpu-map", folder, cpu])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains(">Tiny</model>"))
        }

        @Test(arguments: BrokenMap.all)
        func everyCommandRefusesIt(_ map: BrokenMap) throws {
            let scratch = Scratch()
            defer { scratch.remove() }
            let folder = map.write(in: scratch)
            let expected = Expected.exactly(map.expected(folder))
            try expectRefusal(["baseline", "--cpu-map", folder, "Fixtures/kvm02.xml"], expected)
            try expectRefusal(["diff", "--cpu-map", folder, "Fixtures/kvm02.xml", "Fixtures/kvm03.xml"], expected)
            try expectRefusal(["patch", "--cpu-map", folder, "Fixtures/guest01.xml"] + storyHosts, expected)
            try expectRefusal(["baseline", "Fixtures/kvm02.xml"], expected, environment: ["CPUCOMPAT_CPU_MAP": folder])
            let guest = try #require(contents(CLI.fixture("guest01.xml")))
            try expectInPlaceRefusal(guest, extra: ["--cpu-map", folder]) { _ in expected }
        }

        @Test func aLegacyMapFileWithADoctype() throws {
            let scratch = Scratch()
            defer { scratch.remove() }
            let path = scratch.file("cpu_map.xml", Array("""
                <!DOCTYPE cpus SYSTEM "http://127.0.0.1:9/x.dtd">
                <cpus><arch name='x86'><feature name='fpu'/></arch></cpus>

                """.utf8))
            let expected = Expected.exactly("\(path):1: \(doctypeRefused)")
            try expectRefusal(["baseline", "--cpu-map", path, "Fixtures/kvm02.xml"], expected)
            try expectRefusal(["diff", "--cpu-map", path, "Fixtures/kvm02.xml", "Fixtures/kvm03.xml"], expected)
        }

        @Test func anEmptyFolder() throws {
            let scratch = Scratch()
            defer { scratch.remove() }
            let expected = Expected.exactly("\(scratch.folder): not a CPU map folder (it has no index.xml)")
            try expectRefusal(["baseline", "--cpu-map", scratch.folder, "Fixtures/kvm02.xml"], expected)
            try expectRefusal(["diff", "--cpu-map", scratch.folder, "Fixtures/kvm02.xml", "Fixtures/kvm03.xml"], expected)
            try expectRefusal(["patch", "--cpu-map", scratch.folder, "Fixtures/guest01.xml"] + storyHosts, expected)
            try expectRefusal(["baseline", "Fixtures/kvm02.xml"], expected, environment: ["CPUCOMPAT_CPU_MAP": scratch.folder])
        }

        @Test func aMissingFolder() throws {
            let scratch = Scratch()
            defer { scratch.remove() }
            let folder = scratch.path("nowhere")
            let expected = Expected.exactly("\(folder): no such CPU map folder or file")
            try expectRefusal(["baseline", "--cpu-map", folder, "Fixtures/kvm02.xml"], expected)
            try expectRefusal(["diff", "--cpu-map", folder, "Fixtures/kvm02.xml", "Fixtures/kvm03.xml"], expected)
        }
    }
}
