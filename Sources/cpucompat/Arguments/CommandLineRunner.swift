import CPUCompat
#if canImport(Glibc)
import Glibc
#endif

/// Runs a command line against the command tree: finds the command, answers
/// `--help`, `help`, `--version`, `--generate-completion-script` and
/// `--generate-manual`, parses
/// the arguments and runs the command.
struct CommandLineRunner {
    let root: CommandSpec
    let version: String

    /// Runs `words` (the arguments after the program's name).
    ///
    /// - Returns: The exit status: the command's; 0 for help and version
    ///   (2 if they cannot be written); 64 for a usage mistake.
    func run(_ words: [String]) -> Int32 {
        let words = words[...]

        if let first = words.first, first == "--generate-completion-script" || first.hasPrefix("--generate-completion-script=") {
            let attached = first.contains("=") ? String(first.drop { $0 != "=" }.dropFirst()) : nil
            let rest = words.dropFirst(attached == nil ? 2 : 1)
            if let extra = rest.first { return unexpected(extra) }
            return printCompletionScript(attached ?? words.dropFirst().first)
        }
        if words.first == "--generate-manual" {
            if let extra = words.dropFirst().first { return unexpected(extra) }
            return write(ManualPage(root: root, version: version).roff)
        }
        if words.first == "help" {
            // `cpucompat help export nova`: the help of the command the words name.
            var words = words.dropFirst()
            var path = [root.name]
            var spec = root
            while let word = words.first, !spec.subcommands.isEmpty, !Self.asksForHelp(word, in: spec) {
                guard let subcommand = spec.subcommand(word) else { return unknownCommand(word, in: spec, path: path) }
                spec = subcommand
                path.append(word)
                words = words.dropFirst()
            }
            if let extra = words.first, !Self.asksForHelp(extra, in: spec) {
                return usageFailure(UsageError("unexpected argument '\(extra)': help takes the words of a command"),
                                    spec: root, path: [root.name])
            }
            return printHelp(spec, path: path)
        }

        return dispatch(words, to: root, path: [root.name])
    }

    /// Runs `words` against `spec`: a group's first word picks its command;
    /// a command parses the rest and runs.
    private func dispatch(_ words: ArraySlice<String>, to spec: CommandSpec, path: [String]) -> Int32 {
        switch spec.body {
        case .group:
            guard let word = words.first else { return printHelp(spec, path: path) }
            if Self.asksForHelp(word, in: spec) { return printHelp(spec, path: path) }
            if word == "--version" { return printVersion() }
            guard let subcommand = spec.subcommand(word) else {
                if word.hasPrefix("-") {
                    return usageFailure(UsageError("unknown option '\(word)'; give a command first"), spec: spec, path: path)
                }
                return unknownCommand(word, in: spec, path: path)
            }
            return dispatch(words.dropFirst(), to: subcommand, path: path + [word])
        case let .command(commandType):
            // Help and version come before any other mistake, as long as they are options (before `--`).
            let options = words.prefix { $0 != "--" }
            if options.contains(where: { Self.asksForHelp($0, in: spec) }) { return printHelp(spec, path: path) }
            if options.contains("--version") { return printVersion() }
            do {
                let parsed = try ParsedArguments(Array(words), for: spec)
                try commandType.init(parsed).run()
                return 0
            } catch let usage as UsageError {
                return usageFailure(usage, spec: spec, path: path)
            } catch let status as ExitStatus {
                return status.code
            } catch {
                warn("\(error)")
                return ExitStatus.badInput.code
            }
        }
    }

    /// Whether `word` asks for help: `--help`, `-h`, or `h` among stacked
    /// short flags of `spec` (`-qh`).
    private static func asksForHelp(_ word: String, in spec: CommandSpec) -> Bool {
        if word == "--help" { return true }
        guard word.hasPrefix("-"), !word.hasPrefix("--") else { return false }
        for letter in word.dropFirst() {
            if letter == "h" { return true }
            guard spec.options.contains(where: { $0.short == letter && $0.arity == .flag }) else { return false }
        }
        return false
    }

    /// A word after the root's own requests, which take no more.
    private func unexpected(_ word: String) -> Int32 {
        usageFailure(UsageError("unexpected argument '\(word)'"), spec: root, path: [root.name])
    }

    /// Three lines on standard error: the mistake, the usage, where the help is.
    private func usageFailure(_ error: UsageError, spec: CommandSpec, path: [String]) -> Int32 {
        let invocation = path.joined(separator: " ")
        warn(error.message)
        _ = FileDescriptorWriter.write(Array("usage: \(HelpText.usage(spec, path: path))\n  See '\(invocation) --help'.\n".utf8),
                                       to: STDERR_FILENO)
        return ExitStatus.usage.code
    }

    /// A word that names no command of the group: what was perhaps meant, the
    /// commands there are, and the group's usage.
    private func unknownCommand(_ word: String, in group: CommandSpec, path: [String]) -> Int32 {
        let names = group.subcommands.map(\.name)
        let nearest = NearestNames.nearest(to: word, in: names)
        let suggestion = nearest.isEmpty ? "" : " (did you mean \(nearest.joined(separator: ", "))?)"
        let of = path.count > 1 ? "of \(path.dropFirst().joined(separator: " ")) " : ""
        return usageFailure(UsageError("unknown command '\(word)'\(suggestion); the commands \(of)are \(names.joined(separator: ", "))"),
                            spec: group, path: path)
    }

    private func printHelp(_ spec: CommandSpec, path: [String]) -> Int32 {
        write(HelpText.render(spec, path: path))
    }

    private func printVersion() -> Int32 {
        write(version + "\n")
    }

    private func printCompletionScript(_ shell: String?) -> Int32 {
        guard let shell, let kind = CompletionScript.Shell(rawValue: shell) else {
            return usageFailure(UsageError("--generate-completion-script needs a shell: "
                                           + CompletionScript.Shell.allCases.map(\.rawValue).joined(separator: ", ")),
                                spec: root, path: [root.name])
        }
        return write(CompletionScript(root: root).render(for: kind))
    }

    /// Writes `text` to standard output; a failed write is exit status 2.
    private func write(_ text: String) -> Int32 {
        do {
            try emit(text)
            return 0
        } catch {
            warn(error.description)
            return ExitStatus.badInput.code
        }
    }
}
