/// The manual page, cpucompat(1), in roff with the man macros: the same
/// text as `--help`, every command in a section of its own.
struct ManualPage {
    let root: CommandSpec
    let version: String

    var roff: String {
        var page = ".TH \(root.name.uppercased()) 1 \"\" \"\(root.name) \(version)\" \"User Commands\"\n"
        page += ".SH NAME\n\(root.name) \\- \(Self.escaped(root.abstract))\n"
        page += ".SH SYNOPSIS\n.B \(root.name)\n.I command\n[\\fIoptions\\fR] [\\fIarguments\\fR]\n"
        page += ".SH DESCRIPTION\n" + Self.paragraphs(root.discussion, headings: .subsections)
        page += ".SH COMMANDS\n"
        func describe(_ spec: CommandSpec, path: [String]) {
            if case .command = spec.body {
                page += ".SS \"\(path.joined(separator: " "))\"\n\(Self.escaped(spec.abstract))\n"
                // Filled, but broken only between its words: `[--format <format>]` stays whole.
                let usage = HelpText.usageWords(spec, path: path).map { Self.escaped($0).replacing(" ", with: "\\ ") }
                page += ".PP\n.ad l\n" + usage.joined(separator: " ") + "\n.ad\n"
                if !spec.discussion.isEmpty { page += Self.paragraphs(spec.discussion, headings: .bold) }
                for argument in spec.arguments {
                    page += ".TP\n\\fI\(Self.escaped(argument.usage))\\fR\n\(Self.escaped(argument.help))\n"
                }
                for option in spec.options {
                    page += ".TP\n" + Self.optionLabel(option) + "\n" + Self.escaped(option.help) + "\n"
                    if let defaultValue = option.defaultValue { page += "Default: \\fB\(Self.escaped(defaultValue))\\fR\n" }
                    if let discussion = option.discussion { page += ".IP\n" + Self.escaped(discussion) + "\n" }
                }
            }
            for subcommand in spec.subcommands { describe(subcommand, path: path + [subcommand.name]) }
        }
        describe(root, path: [root.name])
        page += ".SH OPTIONS OF EVERY COMMAND\n"
        for option in OptionSpec.standard {
            page += ".TP\n" + Self.optionLabel(option) + "\n" + Self.escaped(option.help) + "\n"
        }
        page += ".TP\n.BI \\-\\-generate\\-completion\\-script \" shell\"\n"
            + "Print a completion script for bash, zsh or fish (only before a command).\n"
        page += ".TP\n.B \\-\\-generate\\-manual\nPrint this manual page in roff (only before a command).\n"
        return page
    }

    /// `\fB--name\fR \fIvalue\fR`, with the short name first where there is one.
    private static func optionLabel(_ option: OptionSpec) -> String {
        let bold = option.spellings.map { "\\fB\(escaped($0))\\fR" }.joined(separator: ", ")
        return option.arity == .flag ? bold : bold + " \\fI\(escaped(option.valueName))\\fR"
    }

    /// How a line in capitals (EXIT STATUS) is set: a subsection of the page's
    /// description, or within a command's subsection a bold paragraph.
    private enum Headings { case subsections, bold }

    /// The discussion's paragraphs; lines starting with a space (tables) set
    /// as they are, and a line in capitals as a heading.
    private static func paragraphs(_ text: String, headings: Headings) -> String {
        var roff = ""
        var inTable = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix(" ") {
                if !inTable { roff += ".PP\n.nf\n" }
                inTable = true
                roff += escaped(String(line)) + "\n"
                continue
            }
            if inTable { roff += ".fi\n" }
            inTable = false
            if line.isEmpty { continue }
            // A line in capitals is a heading of the help (EXIT STATUS).
            let isHeading = line.allSatisfy { $0.isUppercase || $0 == " " }
            let start = !isHeading ? ".PP\n" : headings == .subsections ? ".SS " : ".PP\n.B "
            roff += start + escaped(String(line)) + "\n"
        }
        if inTable { roff += ".fi\n" }
        return roff
    }

    /// `text` safe as roff input text: backslashes, dashes and non-ASCII
    /// characters escaped, and a line that would start with a control
    /// character made plain text.
    static func escaped(_ text: String) -> String {
        var result = ""
        var atLineStart = true
        for scalar in text.unicodeScalars {
            defer { atLineStart = scalar == "\n" }
            switch scalar {
            // A control character at a line's start would be read as a request.
            case "." where atLineStart, "'" where atLineStart: result += "\\&" + String(scalar)
            case "\\": result += "\\e"
            case "-": result += "\\-"
            // roff input is ASCII; anything else is named by its code point.
            case _ where !scalar.isASCII:
                let digits = String(scalar.value, radix: 16, uppercase: true)
                result += "\\[u" + String(repeating: "0", count: max(0, 4 - digits.count)) + digits + "]"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }
}
