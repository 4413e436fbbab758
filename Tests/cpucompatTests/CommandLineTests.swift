import Foundation
import Testing

// The command line itself, run through the built binary: how options and arguments are read,
// what a usage mistake prints, `help`, `--version`, and the completion scripts and manual page,
// each checked by the real shell or formatter that reads it.

@Suite struct CommandLineTests {
    static let hosts = ["Fixtures/kvm02.xml", "Fixtures/kvm03.xml"]

    @Test(arguments: [
        (["baseline"], "missing <host> ...", "baseline"),
        (["baseline", "--format", "bogus"] + hosts, "--format <format>: 'bogus' is not one of xml, json", "baseline"),
        (["baseline", "--features=yes"] + hosts, "--features takes no value, but 'yes' was given", "baseline"),
        (["baseline", "--cpu-map"], "--cpu-map <path> needs a value", "baseline"),
        (["baseline", "--cpu-map", "--quiet"] + hosts, "--cpu-map <path> needs a value", "baseline"),
        (["baseline", "-x"] + hosts, "unknown option '-x'", "baseline"),
        (["baseline", "-qz"] + hosts, "unknown option '-z' in '-qz'", "baseline"),
        (["diff", "--help=yes"] + hosts, "--help takes no value", "diff"),
        (["collect", "--jobs", "99999999999999999999", "kvm02"], "--jobs <n>: '99999999999999999999' is too large", "collect"),
        (["export", "nvoa"], "unknown command 'nvoa' (did you mean nova?); the commands of export are kubevirt, nova", "export"),
        (["help", "diff", "extra"], "unexpected argument 'extra': help takes the words of a command", ""),
        (["--generate-manual", "extra"], "unexpected argument 'extra'", ""),
        (["baseline", "--feature"] + hosts, "unknown option '--feature'; did you mean '--features'?", "baseline"),
        (["diff", "a.xml", "b.xml", "c.xml"], "unexpected argument 'c.xml'", "diff"),
        (["compare", "Fixtures/guest01.xml"], "missing --host <file>", "compare"),
        (["collect", "--jobs", "many", "kvm02"], "--jobs <n>: 'many' is not a whole number", "collect"),
        (["collect", "--jobs", "-1", "kvm02"], "--jobs must be at least 1", "collect"),
        (["export", "nova", "--models", "0"] + hosts, "--models must be at least 1", "export nova"),
        (["guests", "Fixtures/guest01.xml", "--host"], "--host <host> needs a value", "guests"),
        (["--bogus"], "unknown option '--bogus'; give a command first", ""),
        (["--generate-completion-script", "tcsh"], "--generate-completion-script needs a shell: bash, zsh, fish", ""),
    ] as [([String], String, String)])
    func aUsageMistakeIsNamedWithTheUsageAndStatus64(arguments: [String], message: String, command: String) throws {
        let result = try CLI.run(arguments)
        #expect(result.status == 64)
        #expect(result.stdout.isEmpty)
        let lines = result.stderr.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let invocation = "cpucompat" + (command.isEmpty ? "" : " " + command)
        #expect(lines.count == 4, "\(result.stderr)")
        #expect(lines.first == "cpucompat: " + message)
        #expect(lines.dropFirst().first?.hasPrefix("usage: \(invocation) ") == true, "\(result.stderr)")
        #expect(lines.dropFirst(2).first == "  See '\(invocation) --help'.")
    }

    @Test func aValueAttachedWithEqualsIsTheSameAsTheNextWord() throws {
        let separate = try CLI.run(["baseline", "--format", "json"] + Self.hosts)
        let attached = try CLI.run(["baseline", "--format=json"] + Self.hosts)
        #expect(separate.status == 0)
        #expect(separate.stdout.hasPrefix("{"))
        #expect(attached.stdout == separate.stdout)
    }

    @Test func shortOptionsStackAndTakeTheirValueAsGetoptDoes() throws {
        let quiet = try CLI.run(["baseline", "-q"] + Self.hosts)
        #expect(quiet.status == 0)
        #expect(try CLI.run(["baseline", "-qq"] + Self.hosts).stdout == quiet.stdout)
        let help = try CLI.run(["baseline", "--help"])
        #expect(try CLI.run(["baseline", "-qh"]).stdout == help.stdout)
        // -o=DIR, -oDIR and -o DIR are the same (the folder is missing in each, so each is refused as bad input).
        for arguments in [["-o=/nonexistent"], ["-o/nonexistent"], ["-o", "/nonexistent"]] {
            let result = try CLI.run(["collect"] + arguments + ["kvm02"])
            #expect(result.status == 2, "\(arguments): \(result.stderr)")
            #expect(result.stderr.contains("/nonexistent"), "\(arguments): \(result.stderr)")
        }
    }

    @Test func theLastValueOfAnOptionGivenTwiceCounts() throws {
        let result = try CLI.run(["baseline", "--format", "json", "--format", "xml"] + Self.hosts)
        #expect(result.status == 0)
        #expect(result.stdout.hasPrefix("<cpu"))
    }

    @Test func optionsMayComeBetweenAndAfterArguments() throws {
        let before = try CLI.run(["baseline", "--features", "--format", "json"] + Self.hosts)
        let between = try CLI.run(["baseline", Self.hosts[0], "--features", Self.hosts[1], "--format", "json"])
        #expect(before.status == 0)
        #expect(between.stdout == before.stdout)
    }

    @Test func doubleDashEndsTheOptions() throws {
        let folder = NSTemporaryDirectory() + "cpucompat-dashes-\(getpid())"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.copyItem(atPath: CLI.fixture("kvm02.xml"), toPath: folder + "/--help")
        try FileManager.default.copyItem(atPath: CLI.fixture("kvm03.xml"), toPath: folder + "/-q")
        // Run in the folder, so that the files' own names start with dashes.
        let result = try CLI.runProgram("/bin/sh", ["-c", "cd '\(folder)' && exec '\(CLI.binary)' baseline -- --help -q"])
        let expected = try CLI.run(["baseline"] + Self.hosts)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == expected.stdout)
    }

    @Test func aValueStartingWithADashIsTakenOnlyAsANegativeNumberOrStandardInput() throws {
        let input = try String(contentsOfFile: CLI.fixture("kvm02.xml"), encoding: .utf8)
        let fromStandardInput = try CLI.run(["compare", "--host", "-", Self.hosts[1]], input: input)
        #expect(fromStandardInput.status != 64, "\(fromStandardInput.stderr)")
        let negative = try CLI.run(["models", "--min-hosts", "-2"] + Self.hosts)
        #expect(negative.stderr.hasPrefix("cpucompat: --min-hosts must be at least 1\n"))
    }

    @Test func upToNextOptionTakesEveryWordUntilAnOption() throws {
        let listed = try CLI.run(["guests", "Fixtures/guest01.xml", "--host"] + Self.hosts + ["--format", "json"])
        let repeated = try CLI.run(["guests", "Fixtures/guest01.xml", "--host", Self.hosts[0], "--host", Self.hosts[1], "--format", "json"])
        #expect(listed.status != 64, "\(listed.stderr)")
        #expect(listed.stdout.hasPrefix("{"))
        #expect(listed.stdout == repeated.stdout)
    }

    @Test func helpComesFromEveryWayOfAskingAndHelpAfterDoubleDashIsAFile() throws {
        let help = try CLI.run(["export", "nova", "--help"])
        #expect(help.status == 0)
        #expect(help.stdout.hasPrefix("OVERVIEW: The nova.conf CPU settings"))
        for arguments in [["help", "export", "nova"], ["export", "nova", "-h"], ["export", "nova", "--models", "2", "--help"],
                          ["help", "export", "nova", "--help"]] {
            let other = try CLI.run(arguments)
            #expect(other.status == 0)
            #expect(other.stdout == help.stdout, "\(arguments)")
        }
        let group = try CLI.run(["export"])
        #expect(group.status == 0)
        #expect(group.stdout.contains("SUBCOMMANDS:\n  kubevirt "))
        let unknown = try CLI.run(["help", "exprot"])
        #expect(unknown.status == 64)
        #expect(unknown.stderr.hasPrefix("cpucompat: unknown command 'exprot' (did you mean export?)"))
    }

    @Test func versionIsOneLineFromAnyCommand() throws {
        let root = try CLI.run(["--version"])
        let command = try CLI.run(["baseline", "--version"])
        #expect(root.status == 0)
        #expect(root.stdout.range(of: #"^[0-9]+\.[0-9]+\.[0-9]+\n$"#, options: .regularExpression) != nil)
        #expect(command.stdout == root.stdout)
    }

    // MARK: Completion scripts and the manual page

    /// The path of an installed program, or nil.
    static func installed(_ program: String) -> String? {
        ["/usr/bin/", "/bin/"].map { $0 + program }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Writes the output of `cpucompat ARGUMENTS` to a scratch file and returns its path.
    static func generated(_ arguments: [String], name: String) throws -> String {
        let result = try CLI.run(arguments)
        #expect(result.status == 0, "\(arguments): \(result.stderr)")
        let path = NSTemporaryDirectory() + "cpucompat-\(getpid())-\(name)"
        try result.stdout.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func bashCompletesCommandsOptionsValuesAndFiles() throws {
        let script = try Self.generated(["--generate-completion-script", "bash"], name: "completion.bash")
        defer { try? FileManager.default.removeItem(atPath: script) }
        // Each case: the words on the command line (the last is being completed), and the replies.
        let cases: [([String], String)] = [
            (["cpucompat", "bas"], "baseline"),
            (["cpucompat", "baseline", "--for"], "--format"),
            (["cpucompat", "baseline", "--format", ""], "json xml"),
            (["cpucompat", "export", "n"], "nova"),
            (["cpucompat", "export", "nova", "--mod"], "--models"),
            (["cpucompat", "patch", "Fixtures/guest01.xml", "--strategy", "d"], "disable"),
            (["cpucompat", "diff", "Fixtures/kvm03"], "Fixtures/kvm03-domcaps.xml Fixtures/kvm03.xml"),
            (["cpucompat", "collect", "-o", "Fixture"], "Fixtures"),
            (["cpucompat", "--generate-completion-script", "z"], "zsh"),
            (["cpucompat", "baseline", "--format", "=", ""], "json xml"),
            (["cpucompat", "he"], "help"),
        ]
        var program = "source '\(script)'\n"
        for (words, _) in cases {
            let quoted = words.map { "'\($0)'" }.joined(separator: " ")
            program += "COMP_WORDS=(\(quoted)); COMP_CWORD=\(words.count - 1); COMPREPLY=(); _cpucompat\n"
            program += "printf '%s\\n' \"$(printf '%s\\n' \"${COMPREPLY[@]}\" | sort | tr '\\n' ' ')\"\n"
        }
        let result = try CLI.runProgram("/bin/bash", ["-c", program])
        #expect(result.status == 0, "\(result.stderr)")
        let replies = result.stdout.split(separator: "\n", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        for (index, (words, expected)) in cases.enumerated() {
            #expect(index < replies.count && replies[index] == expected, "\(words): \(index < replies.count ? replies[index] : "no reply")")
        }
    }

    @Test(.enabled(if: installed("fish") != nil, "fish is not installed (.ci/run installs it)"))
    func fishCompletesCommandsOptionsValuesAndFiles() throws {
        let script = try Self.generated(["--generate-completion-script", "fish"], name: "completion.fish")
        defer { try? FileManager.default.removeItem(atPath: script) }
        let cases: [(String, [String])] = [
            ("cpucompat bas", ["baseline"]),
            ("cpucompat baseline --format ", ["json", "xml"]),
            ("cpucompat export ", ["kubevirt", "nova"]),
            ("cpucompat export nova --mod", ["--models"]),
            ("cpucompat diff Fixtures/kvm03", ["Fixtures/kvm03-domcaps.xml", "Fixtures/kvm03.xml"]),
        ]
        for (line, expected) in cases {
            let result = try CLI.runProgram(Self.installed("fish")!, ["--no-config", "-c", "source '\(script)'; complete -C '\(line)'"])
            #expect(result.status == 0, "\(result.stderr)")
            let words = result.stdout.split(separator: "\n").map { String($0.split(separator: "\t")[0]) }.sorted()
            #expect(words == expected, "\(line)")
        }
    }

    @Test(.enabled(if: installed("zsh") != nil, "zsh is not installed (.ci/run installs it)"))
    func zshLoadsTheCompletionFunctions() throws {
        // zsh completion runs only inside its line editor; this checks what can be checked outside
        // it: the script parses, and loading it under compinit defines every command's function.
        let script = try Self.generated(["--generate-completion-script", "zsh"], name: "_cpucompat")
        defer { try? FileManager.default.removeItem(atPath: script) }
        let zsh = Self.installed("zsh")!
        let syntax = try CLI.runProgram(zsh, ["-n", script])
        #expect(syntax.status == 0, "\(syntax.stderr)")
        let functions = ["_cpucompat", "_cpucompat_baseline", "_cpucompat_export", "_cpucompat_export_nova", "_cpucompat_export_kubevirt"]
        let program = "autoload -U compinit; compinit -u -D; _cpucompat() { :; }; source '\(script)' 2>/dev/null; whence -w "
            + functions.joined(separator: " ")
        let loaded = try CLI.runProgram(zsh, ["-f", "-c", program])
        for function in functions { #expect(loaded.stdout.contains("\(function): function"), "\(function): \(loaded.stdout)") }
    }

    @Test(.enabled(if: installed("groff") != nil, "groff is not installed (.ci/run installs it)"))
    func theManualPageFormatsWithoutWarningsAndHasEveryCommand() throws {
        let page = try Self.generated(["--generate-manual"], name: "cpucompat.1")
        defer { try? FileManager.default.removeItem(atPath: page) }
        let checked = try CLI.runProgram(Self.installed("groff")!, ["-man", "-Tutf8", "-ww", "-z", page])
        #expect(checked.status == 0)
        #expect(checked.stderr.isEmpty, "\(checked.stderr)")
        let text = try CLI.runProgram(Self.installed("groff")!, ["-man", "-Tutf8", "-P", "-cbou", page]).stdout
        let help = try CLI.run(["--help"]).stdout
        let commands = help.components(separatedBy: "SUBCOMMANDS:\n")[1].components(separatedBy: "\n\n")[0]
            .split(separator: "\n").filter { !$0.hasPrefix("   ") }.compactMap { $0.split(separator: " ").first }
        #expect(commands.count == 12)
        for command in commands where command != "export" {
            #expect(text.contains("cpucompat \(command)\n"), "no section for \(command)")
        }
        #expect(text.contains("cpucompat export nova\n"))
        #expect(text.contains("--allow-cross-vendor"))
        // A heading of the root's help is a subsection (indented 3); within a command it is a bold line
        // of the command's text (indented 7), so the command's options stay in its own subsection.
        #expect(text.contains("\n   EXIT STATUS\n"))
        #expect(text.contains("\n       EXIT STATUS\n"), "collect's EXIT STATUS")
    }
}
