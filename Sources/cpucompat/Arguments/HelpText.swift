#if canImport(Glibc)
import Glibc
#endif

/// The help of a command, laid out for a terminal of a given width.
///
/// Layout: OVERVIEW (the abstract), the discussion, USAGE, ARGUMENTS, OPTIONS
/// (each option's sentence beside its label, its discussion indented below)
/// and, for a group, SUBCOMMANDS.
struct HelpText {
    /// The columns of the terminal: $COLUMNS, else the width of the terminal
    /// on standard output, else 80.
    static var terminalWidth: Int {
        if let text = getenv("COLUMNS"), let columns = Int(String(cString: text)), columns > 0 { return columns }
        var size = winsize()
        if ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        return 80
    }

    /// Where an option's or argument's sentence starts.
    static let sentenceColumn = 26
    /// How far an option's discussion is indented.
    static let discussionIndent = 8

    /// The whole help of `spec`, reached through `path` (the words before it: `["cpucompat", "export"]`).
    static func render(_ spec: CommandSpec, path: [String], width: Int = terminalWidth) -> String {
        // Lines stop short of the last column: some terminals wrap a line that fills it.
        let textWidth = width - 1
        var text = wrap("OVERVIEW: " + spec.abstract, width: textWidth, continuation: "") + "\n\n"
        if !spec.discussion.isEmpty {
            text += wrapParagraphs(spec.discussion, width: textWidth) + "\n\n"
        }
        text += "USAGE: " + usage(spec, path: path) + "\n\n"
        if !spec.arguments.isEmpty {
            text += "ARGUMENTS:\n"
            for argument in spec.arguments {
                text += entry(label: "<\(argument.name)>", sentence: argument.help, width: textWidth)
            }
            text += "\n"
        }
        text += "OPTIONS:\n"
        for option in spec.options {
            text += entry(label: option.label, sentence: sentence(of: option), width: textWidth)
            if let discussion = option.discussion {
                let indent = String(repeating: " ", count: discussionIndent)
                text += indent + wrap(discussion, width: textWidth - discussionIndent, continuation: indent) + "\n"
            }
        }
        for option in OptionSpec.standard { text += entry(label: option.label, sentence: option.help, width: textWidth) }
        if !spec.subcommands.isEmpty {
            text += "\nSUBCOMMANDS:\n"
            for subcommand in spec.subcommands {
                text += entry(label: subcommand.name, sentence: subcommand.abstract, width: textWidth)
            }
            let helpCommand = [path[0], "help"] + path.dropFirst() + ["<subcommand>"]
            text += "\n  See '\(helpCommand.joined(separator: " "))' for detailed help.\n"
        }
        // A group's help ends with the line that points to its commands' help.
        return spec.subcommands.isEmpty ? text + "\n" : text
    }

    /// `cpucompat baseline [--cpu-map <path>] <host> ... [--quiet]`: the
    /// shared map options, the arguments in order, then the other options,
    /// each in brackets unless the command needs it.
    static func usage(_ spec: CommandSpec, path: [String]) -> String {
        usageWords(spec, path: path).joined(separator: " ")
    }

    /// The usage line's words: the command's path, then one per option or argument.
    static func usageWords(_ spec: CommandSpec, path: [String]) -> [String] {
        var words = path
        if !spec.subcommands.isEmpty { return words + ["<subcommand>"] }
        // The options of MapOptions come first, as every command that reads a map shares them.
        let isMapOption = { (option: OptionSpec) in MapOptions.options.contains { $0.long == option.long } }
        let (leading, trailing) = (spec.options.prefix(while: isMapOption), spec.options.drop(while: isMapOption))
        for option in leading { words.append(usageWord(option)) }
        for argument in spec.arguments { words.append(argument.usage) }
        for option in trailing { words.append(usageWord(option)) }
        return words
    }

    private static func optionUsage(_ option: OptionSpec) -> String {
        option.arity == .repeated || option.arity == .upToNextOption ? option.usageName + " ..." : option.usageName
    }

    /// An option in the usage line: in brackets unless the command needs it.
    private static func usageWord(_ option: OptionSpec) -> String {
        option.isRequired ? optionUsage(option) : "[\(optionUsage(option))]"
    }

    /// The option's sentence, with its accepted values and its default.
    private static func sentence(of option: OptionSpec) -> String {
        var notes: [String] = []
        if case let .oneOf(words) = option.values { notes.append("values: " + words.joined(separator: ", ")) }
        if let defaultValue = option.defaultValue { notes.append("default: " + defaultValue) }
        return notes.isEmpty ? option.help : option.help + " (" + notes.joined(separator: "; ") + ")"
    }

    /// `  label                   sentence`, the sentence wrapped at its column;
    /// a label too long for the gap puts the sentence on the next line.
    private static func entry(label: String, sentence: String, width: Int) -> String {
        let indent = String(repeating: " ", count: sentenceColumn)
        let head = "  " + label
        let wrapped = wrap(sentence, width: width - sentenceColumn, continuation: indent)
        if head.count + 2 > sentenceColumn { return head + "\n" + indent + wrapped + "\n" }
        return head + String(repeating: " ", count: sentenceColumn - head.count) + wrapped + "\n"
    }

    /// Paragraphs of the discussion, each wrapped; a line that starts with a
    /// space (a table, an indented list) is kept as written.
    static func wrapParagraphs(_ text: String, width: Int) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.hasPrefix(" ") ? String(line) : wrap(String(line), width: width, continuation: "")
        }.joined(separator: "\n")
    }

    /// `text` broken at spaces into lines of at most `width` characters (a
    /// longer word gets a line of its own), lines after the first starting
    /// with `continuation`.
    static func wrap(_ text: String, width: Int, continuation: String) -> String {
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ") {
            if line.isEmpty {
                line = String(word)
            } else if line.count + 1 + word.count <= width {
                line += " " + word
            } else {
                lines.append(line)
                line = String(word)
            }
        }
        lines.append(line)
        return lines.joined(separator: "\n" + continuation)
    }
}
