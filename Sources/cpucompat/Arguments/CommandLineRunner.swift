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
    /// - Returns: The exit status: the command's, 0 for help and version,
    ///   64 for a usage mistake.
    func run(_ words: [String]) -> Int32 {
        var words = words[...]
        var path = [root.name]
        var spec = root

        if let first = words.first, first == "--generate-completion-script" || first.hasPrefix("--generate-completion-script=") {
            return printCompletionScript(first.contains("=") ? String(first.drop { $0 != "=" }.dropFirst()) : words.dropFirst().first)
        }
        if words.first == "--generate-manual" {
            return write(ManualPage(root: root, version: version).roff)
        }
        if words.first == "help" {
            // `cpucompat help export nova`: the help of the command the words name.
            words = words.dropFirst()
            while let word = words.first, !spec.subcommands.isEmpty {
                guard let subcommand = spec.subcommand(word) else { return unknownCommand(word, in: spec, path: path) }
                spec = subcommand
                path.append(word)
                words = words.dropFirst()
            }
            return printHelp(spec, path: path)
        }

        while !spec.subcommands.isEmpty {
            guard let word = words.first else { return printHelp(spec, path: path) }
            if word == "--help" || word == "-h" { return printHelp(spec, path: path) }
            if word == "--version" { return printVersion() }
            guard let subcommand = spec.subcommand(word) else {
                if word.hasPrefix("-") {
                    return usageFailure(UsageError("unknown option '\(word)'; give a command first"), spec: spec, path: path)
                }
                return unknownCommand(word, in: spec, path: path)
            }
            spec = subcommand
            path.append(word)
            words = words.dropFirst()
        }

        let options = words.prefix { $0 != "--" }
        if options.contains("--help") || options.contains("-h") { return printHelp(spec, path: path) }
        if options.contains("--version") { return printVersion() }
        guard let commandType = spec.command else { return printHelp(spec, path: path) }
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

    /// Three lines on standard error: the mistake, the usage, where the help is.
    private func usageFailure(_ error: UsageError, spec: CommandSpec, path: [String]) -> Int32 {
        let invocation = path.joined(separator: " ")
        warn(error.message)
        _ = FileDescriptorWriter.write(Array("usage: \(HelpText.usage(spec, path: path))\n  See '\(invocation) --help'.\n".utf8),
                                       to: STDERR_FILENO)
        return ExitStatus.usage.code
    }

    /// A word that names no command of the group: what was perhaps meant, and the commands there are.
    private func unknownCommand(_ word: String, in group: CommandSpec, path: [String]) -> Int32 {
        let names = group.subcommands.map(\.name)
        let nearest = NearestNames.nearest(to: word, in: names)
        let suggestion = nearest.isEmpty ? "" : " (did you mean \(nearest.joined(separator: ", "))?)"
        let group = path.count > 1 ? "of \(path.dropFirst().joined(separator: " ")) " : ""
        warn("unknown command '\(word)'\(suggestion); the commands \(group)are \(names.joined(separator: ", "))")
        return ExitStatus.usage.code
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
