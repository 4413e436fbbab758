import Foundation
import Testing

// Golden outputs: what the built binary prints, checked against text kept in the repository, so
// that neither the help nor the README can drift from the binary.
//
// Help. `Golden/help/cpucompat.txt` is the exact output of `cpucompat --help`, and
// `Golden/help/NAME.txt` that of `cpucompat NAME --help` (a nested subcommand is PARENT-CHILD.txt),
// for every subcommand the help lists under SUBCOMMANDS; the folder holds nothing else.
// The help is wrapped at $COLUMNS, else at the terminal's width (an ioctl on
// standard output), else at 80 columns, so the test sets COLUMNS=80 and LINES=25. After a
// deliberate change to the help, rewrite the files (and remove stale ones), then review the diff:
//
//     CPUCOMPAT_UPDATE_GOLDEN=1 swift test --filter Golden
//     git diff Tests/cpucompatTests/Golden
//
// README. Every block of README.md that shows an output has a marker on the line before it
// (blank lines may stand between):
//
//     <!-- golden: cpucompat ARGUMENTS[; exit N][; stderr][; excerpt][; in DIR] -->
//
// The arguments are split on spaces and run in the package root (or in DIR, relative to it).
// The block that follows (indented by 4 spaces, or fenced) must be the command's standard output
// (its standard error with `stderr`), and N its exit status (0 without `exit`). With `excerpt`
// the block is a run of consecutive lines of the output. A ```json block is compared as JSON:
// its layout and key order are free, its keys and values are not. `…` is the only wildcard: a
// line that is `…` alone matches any number of lines, a JSON array element "…" any number of
// elements, and `…` within a line or a JSON string any run of characters. README blocks are never
// rewritten: a failure names the marker and shows the actual output. README.md without any
// marker fails too, so deleting the markers cannot make the test pass.

@Suite struct GoldenOutputTests {
    static let helpFolder = CLI.package + "/Tests/cpucompatTests/Golden/help"
    static let updating = ProcessInfo.processInfo.environment["CPUCOMPAT_UPDATE_GOLDEN"] == "1"
    static let regenerate = "CPUCOMPAT_UPDATE_GOLDEN=1 swift test --filter Golden"
    /// A terminal of fixed size, so that the help is wrapped the same everywhere.
    static let terminal = ["COLUMNS": "80", "LINES": "25"]

    @Test func helpOfEveryCommandIsItsGoldenFile() throws {
        let commands = try Self.commandsAndHelp()
        #expect(commands.count > 1, "cpucompat --help lists no subcommand")
        if Self.updating {
            try FileManager.default.createDirectory(atPath: Self.helpFolder, withIntermediateDirectories: true)
        }
        for (command, help) in commands {
            let path = Self.helpFolder + "/" + Self.goldenName(of: command) + ".txt"
            let invocation = (["cpucompat"] + command + ["--help"]).joined(separator: " ")
            if Self.updating {
                try help.write(toFile: path, atomically: true, encoding: .utf8)
                print("GoldenOutputTests: wrote \(path)")
                continue
            }
            guard let golden = try? String(contentsOfFile: path, encoding: .utf8) else {
                Issue.record("no golden file \(path) for `\(invocation)`; write it with \(Self.regenerate)")
                continue
            }
            if let difference = GoldenText.firstDifference(expected: golden, actual: help) {
                Issue.record("""
                `\(invocation)` (COLUMNS=80) differs from \(path):
                \(difference)
                If the change is meant, regenerate the golden files with \(Self.regenerate) and review `git diff`.
                """)
            }
        }
        let expected = Set(commands.map { Self.goldenName(of: $0.command) + ".txt" })
        for file in try FileManager.default.contentsOfDirectory(atPath: Self.helpFolder).sorted()
        where !expected.contains(file) {
            if Self.updating {
                try FileManager.default.removeItem(atPath: Self.helpFolder + "/" + file)
                print("GoldenOutputTests: removed \(Self.helpFolder)/\(file)")
            } else {
                Issue.record("\(Self.helpFolder)/\(file) is the help of no command; remove it (\(Self.regenerate) does)")
            }
        }
    }

    @Test func readmeExamplesAreWhatTheBinaryPrints() throws {
        let readme = try String(contentsOfFile: CLI.package + "/README.md", encoding: .utf8)
        let examples = try ReadmeExample.all(in: readme)
        #expect(!examples.isEmpty, "README.md has no <!-- golden: … --> marker, so none of its examples is checked")
        for example in examples {
            let result = try CLI.run(example.arguments, directory: example.directory)
            var problems: [String] = []
            if result.status != example.status {
                problems.append("exit status \(result.status), where the marker says \(example.status)")
            }
            if let mismatch = example.mismatch(example.stream == .stderr ? result.stderr : result.stdout) {
                problems.append(mismatch)
            }
            guard !problems.isEmpty else { continue }
            Issue.record("""
            README.md:\(example.line): <!-- golden: \(example.marker) -->
            \(problems.joined(separator: "\n"))
            --- the README's block:
            \(example.block.joined(separator: "\n"))
            --- actual standard output:
            \(result.stdout)--- actual standard error:
            \(result.stderr)---
            README blocks are not rewritten: fix the README (or the binary) by hand.
            """)
        }
    }

    /// Every command path with its help: `[]` for cpucompat itself, then each subcommand the
    /// help lists, depth first.
    static func commandsAndHelp() throws -> [(command: [String], help: String)] {
        var found: [(command: [String], help: String)] = []
        func visit(_ command: [String]) throws {
            let result = try CLI.run(command + ["--help"], environment: terminal)
            #expect(result.status == 0, "\(command) --help: exit status \(result.status)")
            #expect(result.stderr.isEmpty, "\(command) --help wrote to standard error: \(result.stderr)")
            found.append((command, result.stdout))
            for subcommand in GoldenText.subcommands(inHelp: result.stdout) { try visit(command + [subcommand]) }
        }
        try visit([])
        return found
    }

    static func goldenName(of command: [String]) -> String {
        command.isEmpty ? "cpucompat" : command.joined(separator: "-")
    }
}

/// The matching rules of the golden tests, tested on their own so that a rule that matches too
/// much cannot hide a drift.
@Suite struct GoldenMatchingTests {
    @Test func anExactBlockMatchesAndAChangedLineIsNamed() {
        #expect(GoldenText.linesMatch(["a", "b"], ["a", "b"]))
        #expect(!GoldenText.linesMatch(["a", "b"], ["a", "c"]))
        #expect(!GoldenText.linesMatch(["a", "b"], ["a", "b", "c"]))
        #expect(GoldenText.firstDifference(expected: "a\nb\n", actual: "a\nb\n") == nil)
        #expect(GoldenText.firstDifference(expected: "a\nb\nc\n", actual: "a\nB\nc\n")
                == "first difference at line 2 (golden: 3 lines, actual: 3):\n  golden: \"b\"\n  actual: \"B\"")
        #expect(GoldenText.firstDifference(expected: "a\n", actual: "a\nb\n")
                == "first difference at line 2 (golden: 1 lines, actual: 2):\n  golden: (end of text)\n  actual: \"b\"")
        #expect(GoldenText.firstDifference(expected: "a\n", actual: "a") != nil)
        #expect(GoldenText.quoted("it's\tdone ") == "\"it's\\u{9}done \"")
    }

    @Test func anEllipsisLineMatchesAnyNumberOfLinesButNotWhatFollowsIt() {
        #expect(GoldenText.linesMatch(["<cpu>", "  …", "</cpu>"], ["<cpu>", "</cpu>"]))
        #expect(GoldenText.linesMatch(["<cpu>", "  …", "</cpu>"], ["<cpu>", "  x", "  y", "</cpu>"]))
        #expect(!GoldenText.linesMatch(["<cpu>", "  …", "</cpu>"], ["<cpu>", "  x", "</cpus>"]))
        #expect(!GoldenText.linesMatch(["<cpu>", "  …", "</cpu>"], ["<cpux>", "  x", "</cpu>"]))
    }

    @Test func anEllipsisWithinALineMatchesAnyRunOfItsCharacters() {
        #expect(GoldenText.lineMatches("missing: vmx,…", "missing: vmx,fma,abm"))
        #expect(GoldenText.lineMatches("a…c…e", "abcde"))
        #expect(GoldenText.lineMatches("a…a", "aa"))
        #expect(!GoldenText.lineMatches("a…a", "a"))
        #expect(!GoldenText.lineMatches("missing: vmx,…", "missing: fma,vmx"))
        #expect(!GoldenText.linesMatch(["a…"], ["ab", "c"]), "… within a line does not reach the next line")
    }

    @Test func jsonIsComparedAsValuesWithEllipsesForTheRest() throws {
        let pattern = #"{"a": ["x", "…"], "b": "one…", "c": []}"#
        #expect(try GoldenJSON.mismatch(pattern: pattern, actual: #"{"c": [], "b": "one two", "a": ["x", "y", "z"]}"#) == nil)
        #expect(try GoldenJSON.mismatch(pattern: pattern, actual: #"{"a": ["y"], "b": "one", "c": []}"#) != nil)
        #expect(try GoldenJSON.mismatch(pattern: pattern, actual: #"{"a": ["x"], "b": "two", "c": []}"#) == "b: \"two\" where the README has \"one…\"")
        #expect(try GoldenJSON.mismatch(pattern: pattern, actual: #"{"a": ["x"], "b": "one", "c": [], "d": 1}"#)
                == "(top level): keys the README lacks: d")
        #expect(try GoldenJSON.mismatch(pattern: pattern, actual: #"{"a": ["x"], "b": "one", "c": [1]}"#) != nil)
    }

    @Test func markersAreReadWithTheirOptionsAndTheirBlocks() throws {
        let readme = """
        Intro.

        <!-- golden: cpucompat diff A B; exit 1 -->

            line one
              line two

        more
        <!-- golden: cpucompat baseline X; exit 2; stderr; in Fixtures/readme -->
        ```json
        {"a": 1}
        ```
        """
        let examples = try ReadmeExample.all(in: readme)
        #expect(examples.map(\.arguments) == [["diff", "A", "B"], ["baseline", "X"]])
        #expect(examples.map(\.line) == [3, 9])
        #expect(examples.map(\.status) == [1, 2])
        #expect(examples[0].block == ["line one", "  line two"])
        #expect(examples[1].block == [#"{"a": 1}"#] && examples[1].isJSON && examples[1].stream == .stderr)
        #expect(examples[1].directory == "Fixtures/readme")
        #expect(throws: GoldenMarkerError.self) { try ReadmeExample.all(in: "<!-- golden: cpucompat map -->\ntext\n") }
        #expect(throws: GoldenMarkerError.self) { try ReadmeExample.all(in: "<!-- golden: cpucompat map; exits 1 -->\n    x\n") }
        #expect(throws: GoldenMarkerError.self) { try ReadmeExample.all(in: "<!-- golden: virsh map -->\n    x\n") }
    }
}

/// Text matching for the golden tests.
enum GoldenText {
    /// The README's sign for what it leaves out.
    static let wildcard = "…"

    /// Where `actual` first differs from `expected`, for a failure message (`expected` is called
    /// `name` there); nil when they are equal.
    static func firstDifference(expected: String, actual: String, name: String = "golden") -> String? {
        guard Array(expected.utf8) != Array(actual.utf8) else { return nil }
        let golden = lines(of: expected), output = lines(of: actual)
        let counts = "(\(name): \(golden.count) lines, actual: \(output.count))"
        for index in 0..<max(golden.count, output.count) {
            let left = index < golden.count ? golden[index] : nil
            let right = index < output.count ? output[index] : nil
            guard left != right else { continue }
            return """
            first difference at line \(index + 1) \(counts):
              \(name): \(left.map(quoted) ?? "(end of text)")
              actual: \(right.map(quoted) ?? "(end of text)")
            """
        }
        return "the texts differ only in their final line break \(counts)"
    }

    /// `line` in double quotes, its control characters escaped, so that white space shows.
    static func quoted(_ line: String) -> String {
        let escaped = line.unicodeScalars.map { scalar in
            scalar.properties.generalCategory == .control ? "\\u{\(String(scalar.value, radix: 16))}" : String(scalar)
        }
        return "\"" + escaped.joined() + "\""
    }

    /// The lines of `text`, without the line break that ends the last one.
    static func lines(of text: String) -> [String] {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        return lines
    }

    /// The subcommands a help lists: the first word of each line indented
    /// by exactly two spaces under `SUBCOMMANDS:`, up to the first blank line.
    static func subcommands(inHelp help: String) -> [String] {
        let lines = lines(of: help)
        guard let start = lines.firstIndex(of: "SUBCOMMANDS:") else { return [] }
        var names: [String] = []
        for line in lines[(start + 1)...] {
            if line.isEmpty { break }
            guard line.hasPrefix("  "), line.dropFirst(2).first != " " else { continue }
            if let name = line.split(separator: " ").first { names.append(String(name)) }
        }
        return names
    }

    /// Whether `actual` matches `pattern` line for line, where a pattern line that is `…` alone
    /// (indentation aside) stands for any number of lines, and `…` within a line for any run of
    /// that line's characters.
    static func linesMatch(_ pattern: [String], _ actual: [String]) -> Bool {
        sequenceMatches(pattern, actual,
                        isWildcard: { $0.trimmingCharacters(in: .whitespaces) == wildcard },
                        elementMatches: lineMatches)
    }

    /// Whether `actual` is `pattern`, each `…` of which stands for any run of characters.
    static func lineMatches(_ pattern: String, _ actual: String) -> Bool {
        let pieces = pattern.components(separatedBy: wildcard).map { Array($0.utf8) }
        let text = Array(actual.utf8)
        guard let first = pieces.first, let last = pieces.last, pieces.count > 1 else {
            return Array(pattern.utf8) == text
        }
        guard text.count >= first.count + last.count, text.starts(with: first),
              text.suffix(last.count).elementsEqual(last) else { return false }
        // The pieces between the first and the last, each found leftmost, which leaves the most room.
        var position = first.count
        let end = text.count - last.count
        for piece in pieces.dropFirst().dropLast() {
            guard let found = firstIndex(of: piece, in: text, from: position, before: end) else { return false }
            position = found + piece.count
        }
        return true
    }

    /// Whether `actual` matches `pattern` element for element, a wildcard standing for any number
    /// of elements.
    static func sequenceMatches<P, A>(_ pattern: [P], _ actual: [A], isWildcard: (P) -> Bool,
                                      elementMatches: (P, A) -> Bool) -> Bool {
        // matched[j]: the pattern read so far matches the first j elements of actual.
        var matched = [true] + Array(repeating: false, count: actual.count)
        for element in pattern {
            var next = Array(repeating: false, count: actual.count + 1)
            if isWildcard(element) {
                var reached = false
                for j in 0...actual.count {
                    reached = reached || matched[j]
                    next[j] = reached
                }
            } else {
                for j in 0..<actual.count where matched[j] && elementMatches(element, actual[j]) { next[j + 1] = true }
            }
            matched = next
        }
        return matched[actual.count]
    }

    private static func firstIndex(of piece: [UInt8], in text: [UInt8], from start: Int, before end: Int) -> Int? {
        guard end - start >= piece.count else { return nil }
        for index in start...(end - piece.count) where text[index..<(index + piece.count)].elementsEqual(piece) {
            return index
        }
        return nil
    }
}

/// A JSON value, for comparing a README's JSON block with the binary's output as values.
enum GoldenJSON: Equatable, Decodable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([GoldenJSON])
    case object([String: GoldenJSON])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([GoldenJSON].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: GoldenJSON].self))
        }
    }

    /// Where the JSON text `actual` does not match the JSON text `pattern`; nil when it matches.
    static func mismatch(pattern: String, actual: String) throws -> String? {
        let expected = try JSONDecoder().decode(GoldenJSON.self, from: Data(pattern.utf8))
        guard let output = try? JSONDecoder().decode(GoldenJSON.self, from: Data(actual.utf8)) else {
            return "the output is not JSON"
        }
        return expected.mismatch(output, at: "")
    }

    private static let wildcard = GoldenJSON.string(GoldenText.wildcard)

    private func mismatch(_ actual: GoldenJSON, at path: String) -> String? {
        let place = path.isEmpty ? "(top level)" : path
        switch (self, actual) {
        case let (.string(pattern), .string(text)):
            return GoldenText.lineMatches(pattern, text) ? nil
                : "\(place): \(GoldenText.quoted(text)) where the README has \(GoldenText.quoted(pattern))"
        case let (.array(pattern), .array(elements)):
            if !pattern.contains(Self.wildcard), pattern.count == elements.count {
                for (index, (expected, element)) in zip(pattern, elements).enumerated() {
                    if let mismatch = expected.mismatch(element, at: "\(path)[\(index)]") { return mismatch }
                }
                return nil
            }
            let matches = GoldenText.sequenceMatches(pattern, elements, isWildcard: { $0 == Self.wildcard },
                                                     elementMatches: { $0.mismatch($1, at: path) == nil })
            return matches ? nil : "\(place): the output's \(elements.count) elements do not match the README's list"
        case let (.object(pattern), .object(members)):
            let lacking = Set(pattern.keys).subtracting(members.keys).sorted()
            let extra = Set(members.keys).subtracting(pattern.keys).sorted()
            guard lacking.isEmpty, extra.isEmpty else {
                return "\(place): " + [lacking.isEmpty ? nil : "keys the output lacks: " + lacking.joined(separator: ", "),
                                       extra.isEmpty ? nil : "keys the README lacks: " + extra.joined(separator: ", ")]
                    .compactMap { $0 }.joined(separator: "; ")
            }
            for (key, expected) in pattern.sorted(by: { $0.key < $1.key }) {
                guard let member = members[key] else { continue }
                if let mismatch = expected.mismatch(member, at: path.isEmpty ? key : path + "." + key) { return mismatch }
            }
            return nil
        default:
            return self == actual ? nil : "\(place): the output has another value or kind of value"
        }
    }
}

/// A README block whose output the binary must print, with the marker before it.
struct ReadmeExample {
    enum Stream { case stdout, stderr }

    /// The marker's line in README.md, from 1.
    var line: Int
    /// The marker's text after `golden:`.
    var marker: String
    var arguments: [String]
    var status: Int32 = 0
    var stream = Stream.stdout
    var excerpt = false
    /// Where to run, relative to the package root; nil for the root itself.
    var directory: String?
    var block: [String] = []
    var isJSON = false

    private static let opening = "<!-- golden:"

    /// Every marked example of `readme`, in order.
    /// - Throws: `GoldenMarkerError` for a marker that cannot be read or is followed by no block.
    static func all(in readme: String) throws -> [ReadmeExample] {
        let lines = GoldenText.lines(of: readme)
        var examples: [ReadmeExample] = []
        var index = 0
        while index < lines.count {
            let text = lines[index].trimmingCharacters(in: .whitespaces)
            guard text.hasPrefix(opening) else {
                index += 1
                continue
            }
            guard text.hasSuffix("-->") else { throw GoldenMarkerError(line: index + 1, "the marker must end with --> on its line") }
            var example = try ReadmeExample(line: index + 1,
                                            marker: String(text.dropFirst(opening.count).dropLast(3))
                                                .trimmingCharacters(in: .whitespaces))
            var start = index + 1
            while start < lines.count, lines[start].trimmingCharacters(in: .whitespaces).isEmpty { start += 1 }
            guard start < lines.count else { throw GoldenMarkerError(line: index + 1, "the marker is followed by no block") }
            if lines[start].hasPrefix("```") {
                guard let end = lines[(start + 1)...].firstIndex(where: { $0.hasPrefix("```") }) else {
                    throw GoldenMarkerError(line: start + 1, "the fenced block is not closed")
                }
                example.block = Array(lines[(start + 1)..<end])
                example.isJSON = lines[start].dropFirst(3).trimmingCharacters(in: .whitespaces) == "json"
                index = end + 1
            } else if lines[start].hasPrefix("    ") {
                var end = start
                while end < lines.count, lines[end].hasPrefix("    ") || lines[end].trimmingCharacters(in: .whitespaces).isEmpty {
                    end += 1
                }
                example.block = lines[start..<end].map { $0.hasPrefix("    ") ? String($0.dropFirst(4)) : "" }
                while example.block.last == "" { example.block.removeLast() }
                index = end
            } else {
                throw GoldenMarkerError(line: index + 1, "the marker is followed by no block (indented by 4 spaces, or fenced)")
            }
            if example.isJSON, example.excerpt {
                throw GoldenMarkerError(line: example.line, "a JSON block cannot be an excerpt")
            }
            examples.append(example)
        }
        return examples
    }

    private init(line: Int, marker: String) throws {
        self.line = line
        self.marker = marker
        let parts = marker.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        let words = (parts.first ?? "").split(separator: " ").map(String.init)
        guard words.first == "cpucompat" else { throw GoldenMarkerError(line: line, "the command must start with cpucompat") }
        arguments = Array(words.dropFirst())
        for option in parts.dropFirst() {
            let words = option.split(separator: " ").map(String.init)
            switch (words.first ?? "", words.count) {
            case ("exit", 2):
                guard let status = Int32(words[1]) else { throw GoldenMarkerError(line: line, "exit needs a number: \(option)") }
                self.status = status
            case ("stderr", 1): stream = .stderr
            case ("excerpt", 1): excerpt = true
            case ("in", 2): directory = words[1]
            default: throw GoldenMarkerError(line: line, "unknown option '\(option)' (exit N, stderr, excerpt, in DIR)")
            }
        }
    }

    /// Why `output` is not what the block shows; nil when it is.
    func mismatch(_ output: String) -> String? {
        let shown = stream == .stderr ? "standard error" : "standard output"
        if isJSON {
            do {
                return try GoldenJSON.mismatch(pattern: block.joined(separator: "\n"), actual: output)
                    .map { "the \(shown) does not match the README's JSON: \($0)" }
            } catch {
                return "the README's JSON block does not parse: \(error)"
            }
        }
        let pattern = excerpt ? [GoldenText.wildcard] + block + [GoldenText.wildcard] : block
        let actual = GoldenText.lines(of: output)
        if GoldenText.linesMatch(pattern, actual) { return nil }
        if !excerpt, !block.contains(where: { $0.contains(GoldenText.wildcard) }),
           let difference = GoldenText.firstDifference(expected: block.joined(separator: "\n"),
                                                       actual: actual.joined(separator: "\n"), name: "README") {
            return "the \(shown) is not the README's block: " + difference
        }
        return "the \(shown) does not match the README's block (\(excerpt ? "an excerpt, " : "")… stands for what it leaves out)"
    }
}

struct GoldenMarkerError: Error, CustomStringConvertible {
    var line: Int
    var message: String

    init(line: Int, _ message: String) {
        self.line = line
        self.message = message
    }

    var description: String { "README.md:\(line): golden marker: \(message)" }
}
