/// The manual page, cpucompat(1), in roff with the man macros: the same
/// text as `--help`, every command in a section of its own.
struct ManualPage {
    let root: CommandSpec
    let version: String

    var roff: String {
        var page = ".TH \(root.name.uppercased()) 1 \"\" \"\(root.name) \(version)\" \"User Commands\"\n"
        page += ".SH NAME\n\(root.name) \\- \(Self.escaped(root.abstract))\n"
        page += ".SH SYNOPSIS\n.B \(root.name)\n.I command\n[\\fIoptions\\fR] [\\fIarguments\\fR]\n"
        page += ".SH DESCRIPTION\n" + Self.paragraphs(root.discussion)
        page += ".SH COMMANDS\n"
        func describe(_ spec: CommandSpec, path: [String]) {
            if spec.command != nil {
                page += ".SS \"\(path.joined(separator: " "))\"\n\(Self.escaped(spec.abstract))\n"
                page += ".PP\n\(Self.escaped(HelpText.usage(spec, path: path)))\n"
                if !spec.discussion.isEmpty { page += Self.paragraphs(spec.discussion) }
                for argument in spec.arguments {
                    page += ".TP\n\\fI\(Self.escaped(argument.usage))\\fR\n\(Self.escaped(argument.help))\n"
                }
                for option in spec.options {
                    page += ".TP\n" + Self.optionLabel(option) + "\n" + Self.escaped(option.help) + "\n"
                    if case let .oneOf(words) = option.values { page += "One of: \(Self.escaped(words.joined(separator: ", "))).\n" }
                    if let defaultValue = option.defaultValue { page += "Default: \(Self.escaped(defaultValue)).\n" }
                    if let discussion = option.discussion { page += ".IP\n" + Self.escaped(discussion) + "\n" }
                }
            }
            for subcommand in spec.subcommands { describe(subcommand, path: path + [subcommand.name]) }
        }
        describe(root, path: [root.name])
        page += ".SH OPTIONS OF EVERY COMMAND\n"
        for (label, help) in HelpText.standardOptions {
            page += ".TP\n.B \(Self.escaped(label))\n\(Self.escaped(help))\n"
        }
        page += ".TP\n.BI \\-\\-generate\\-completion\\-script \" shell\"\n"
            + "Print a completion script for bash, zsh or fish (only before a command).\n"
        page += ".TP\n.B \\-\\-generate\\-manual\nPrint this manual page in roff (only before a command).\n"
        return page
    }

    /// `\fB--name\fR \fIvalue\fR`, with the short name first where there is one.
    private static func optionLabel(_ option: OptionSpec) -> String {
        let names = (option.short.map { ["-\($0)"] } ?? []) + ["--" + option.long]
        let bold = names.map { "\\fB\(escaped($0))\\fR" }.joined(separator: ", ")
        return option.arity == .flag ? bold : bold + " \\fI\(escaped(option.valueName))\\fR"
    }

    /// The discussion's paragraphs; lines starting with a space (tables) set
    /// as they are, and a line in capitals as a subsection heading.
    private static func paragraphs(_ text: String) -> String {
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
            // A heading of the help (EXIT STATUS) is a subsection of the page.
            let isHeading = line.allSatisfy { $0.isUppercase || $0 == " " }
            roff += (isHeading ? ".SS " : ".PP\n") + escaped(String(line)) + "\n"
        }
        if inTable { roff += ".fi\n" }
        return roff
    }

    /// `text` safe as roff input text: backslashes, dashes and non-ASCII
    /// characters escaped, and a line that would start with a control
    /// character made plain text.
    static func escaped(_ text: String) -> String {
        var result = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": result += "\\e"
            case "-": result += "\\-"
            // roff input is ASCII; anything else is named by its code point.
            case _ where !scalar.isASCII:
                let digits = String(scalar.value, radix: 16, uppercase: true)
                result += "\\[u" + String(repeating: "0", count: max(0, 4 - digits.count)) + digits + "]"
            default: result.unicodeScalars.append(scalar)
            }
        }
        if result.hasPrefix(".") || result.hasPrefix("'") { result = "\\&" + result }
        return result
    }
}
