import Foundation
import Testing

// Golden outputs: what the built binary prints, checked against text kept in the repository, so
// that the help cannot drift from the binary.
//
// Help. `Golden/help/cpucompat.txt` is the exact output of `cpucompat --help`, and
// `Golden/help/NAME.txt` that of `cpucompat NAME --help` (a nested subcommand is PARENT-CHILD.txt),
// for every subcommand the help lists under SUBCOMMANDS; the folder holds nothing else.
// swift-argument-parser wraps the help at $COLUMNS, else at the terminal's width (an ioctl on
// standard output), else at 80 columns, so the test sets COLUMNS=80 and LINES=25. After a
// deliberate change to the help, rewrite the files (and remove stale ones), then review the diff:
//
//     CPUCOMPAT_UPDATE_GOLDEN=1 swift test --filter Golden
//     git diff Tests/cpucompatTests/Golden

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

/// The matching rules of the golden tests, tested on their own.
@Suite struct GoldenMatchingTests {
    @Test func anExactBlockMatchesAndAChangedLineIsNamed() {
        #expect(GoldenText.firstDifference(expected: "a\nb\n", actual: "a\nb\n") == nil)
        #expect(GoldenText.firstDifference(expected: "a\nb\nc\n", actual: "a\nB\nc\n")
                == "first difference at line 2 (golden: 3 lines, actual: 3):\n  golden: \"b\"\n  actual: \"B\"")
        #expect(GoldenText.firstDifference(expected: "a\n", actual: "a\nb\n")
                == "first difference at line 2 (golden: 1 lines, actual: 2):\n  golden: (end of text)\n  actual: \"b\"")
        #expect(GoldenText.firstDifference(expected: "a\n", actual: "a") != nil)
        #expect(GoldenText.quoted("it's\tdone ") == "\"it's\\u{9}done \"")
    }
}

/// Text matching for the golden tests.
enum GoldenText {
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

    /// The subcommands a swift-argument-parser help lists: the first word of each line indented
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
}
