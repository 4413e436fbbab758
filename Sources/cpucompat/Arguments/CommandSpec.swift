// cpucompat's command line, declared as plain values.
//
// Each command states its options and arguments once, as a `CommandSpec`; the parser, the help,
// the usage line, the error messages and the shell completion scripts are all read from it.
// There is no reflection: swift-argument-parser, which cpucompat used before, finds options by
// reflecting over property wrappers, and that cost 12.6 M instructions per run (its conformance
// scans over every conformance record of the binary) against an 8 M budget for a whole two-host
// baseline. Here a run costs what reading a few arrays of structs costs.

/// A command of cpucompat: its declaration, how it is made from what the
/// user typed, and what it does.
protocol Command: SendableMetatype {
    /// What the command accepts; its `body` is `.command(Self.self)`.
    static var spec: CommandSpec { get }

    /// The command with the user's arguments.
    ///
    /// - Throws: `UsageError` when the arguments contradict each other
    ///   (the checks a single option cannot make alone).
    init(_ arguments: ParsedArguments) throws(UsageError)

    /// Does the work.
    ///
    /// - Throws: `ExitStatus` for an answer other than success (its code is
    ///   the exit status), or `UsageError` for a usage mistake found late.
    func run() throws
}

/// A command, or a group of subcommands (`cpucompat` itself, `export`).
struct CommandSpec: Sendable {
    /// The word that selects the command.
    let name: String
    /// One sentence: the first line of the help, and the command's line in its parent's list.
    let abstract: String
    /// The rest of the help: paragraphs wrapped to the terminal, lines
    /// starting with a space kept as they are.
    let discussion: String
    let arguments: [ArgumentSpec]
    let options: [OptionSpec]
    let body: Body

    /// What a command line reaching the spec runs.
    enum Body: Sendable {
        /// A command, run by this type.
        case command(any Command.Type)
        /// A group: its commands, in the order the help lists them.
        case group([CommandSpec])
    }

    /// A group's commands; none for a command.
    var subcommands: [CommandSpec] {
        if case let .group(subcommands) = body { subcommands } else { [] }
    }

    init(name: String, abstract: String, discussion: String = "", arguments: [ArgumentSpec] = [],
         options: [OptionSpec] = [], command: any Command.Type) {
        self.name = name
        self.abstract = abstract
        self.discussion = discussion
        self.arguments = arguments
        self.options = options
        self.body = .command(command)
    }

    init(group name: String, abstract: String, discussion: String = "", subcommands: [CommandSpec]) {
        precondition(!subcommands.isEmpty, "a group has commands")
        self.name = name
        self.abstract = abstract
        self.discussion = discussion
        self.arguments = []
        self.options = []
        self.body = .group(subcommands)
    }

    /// The subcommand called `name`.
    func subcommand(_ name: String) -> CommandSpec? {
        subcommands.first { $0.name == name }
    }
}

/// What the shell should offer to complete a value with.
enum CompletionKind: Equatable, Sendable {
    case none
    /// Files; with extensions, those ending in one of them (folders are still offered, to descend).
    case file(extensions: [String])
    case directory
    /// Exactly these words.
    case words([String])

    static let anyFile = CompletionKind.file(extensions: [])
    static let xmlFile = CompletionKind.file(extensions: ["xml"])
}

/// An option: `--name`, perhaps `-n`, perhaps with a value.
struct OptionSpec: Sendable {
    /// How many values the option takes.
    enum Arity: Equatable, Sendable {
        /// No value: present or not.
        case flag
        /// One value; given again, the last one counts.
        case single
        /// One value each time it is given; all count.
        case repeated
        /// Every following argument up to the next option (`--host a b c`); may be given again.
        case upToNextOption
    }

    /// Which values the option accepts, checked while parsing.
    enum Values: Equatable, Sendable {
        case any
        /// A whole number (an optional sign, then digits).
        case integer
        /// One of these words.
        case oneOf([String])
    }

    /// The long name, without the dashes.
    let long: String
    let short: Character?
    let arity: Arity
    /// What the help calls the value: `<path>` for `path`.
    let valueName: String
    let values: Values
    /// One sentence: the option's line in the help.
    let help: String
    /// More, printed below the option's line in the help.
    let discussion: String?
    /// The value when the option is not given, shown in the help.
    let defaultValue: String?
    let completion: CompletionKind
    /// Whether the command refuses to run without it.
    let isRequired: Bool

    /// `-s` (if it has one) and `--long`: the words that give the option.
    var spellings: [String] {
        (short.map { ["-\($0)"] } ?? []) + ["--" + long]
    }

    /// `--long` or `-s, --long` with its value: the option as the help lists it.
    var label: String {
        let name = spellings.joined(separator: ", ")
        return arity == .flag ? name : name + " <\(valueName)>"
    }

    /// `--long <value>`: the option as the usage line and error messages name it.
    var usageName: String {
        arity == .flag ? "--" + long : "--\(long) <\(valueName)>"
    }

    /// An option without a value.
    static func flag(_ long: String, short: Character? = nil, help: String, discussion: String? = nil) -> OptionSpec {
        OptionSpec(long: long, short: short, arity: .flag, valueName: "", values: .any, help: help,
                   discussion: discussion, defaultValue: nil, completion: .none, isRequired: false)
    }

    /// An option with a value of the user's choosing.
    static func value(_ long: String, short: Character? = nil, _ valueName: String, arity: Arity = .single,
                      default defaultValue: String? = nil, required: Bool = false, completion: CompletionKind = .none,
                      help: String, discussion: String? = nil) -> OptionSpec {
        OptionSpec(long: long, short: short, arity: arity, valueName: valueName, values: .any, help: help,
                   discussion: discussion, defaultValue: defaultValue, completion: completion, isRequired: required)
    }

    /// An option whose value is a whole number.
    static func integer(_ long: String, _ valueName: String, default defaultValue: Int? = nil,
                        help: String) -> OptionSpec {
        OptionSpec(long: long, short: nil, arity: .single, valueName: valueName, values: .integer, help: help,
                   discussion: nil, defaultValue: defaultValue.map { String($0) }, completion: .none, isRequired: false)
    }

    /// An option whose value is one of the cases of `choices`, by raw value.
    static func choice<Choice: RawRepresentable & CaseIterable>(
        _ long: String, _ valueName: String, of choices: Choice.Type, default defaultValue: Choice,
        help: String
    ) -> OptionSpec where Choice.RawValue == String {
        let words = choices.allCases.map(\.rawValue)
        return OptionSpec(long: long, short: nil, arity: .single, valueName: valueName, values: .oneOf(words),
                          help: help, discussion: nil, defaultValue: defaultValue.rawValue,
                          completion: .words(words), isRequired: false)
    }
}

extension OptionSpec {
    /// The options every command takes besides its own, answered before its
    /// arguments are read: the help lists them, the completion scripts offer them.
    static let standard: [OptionSpec] = [
        .flag("version", help: "Show the version."),
        .flag("help", short: "h", help: "Show help information."),
    ]
}

/// A positional argument.
struct ArgumentSpec: Sendable {
    /// How many values the argument takes.
    enum Arity: Equatable, Sendable {
        case one
        /// One or more.
        case oneOrMore
        /// Zero or more.
        case any
    }

    /// What the help calls it: `<name>`.
    let name: String
    let arity: Arity
    let help: String
    let completion: CompletionKind

    init(_ name: String, _ arity: Arity = .one, completion: CompletionKind = .none, help: String) {
        self.name = name
        self.arity = arity
        self.help = help
        self.completion = completion
    }

    /// `<name>`, `<name> ...` or `[<name> ...]`, as the usage line writes it.
    var usage: String {
        switch arity {
        case .one: "<\(name)>"
        case .oneOrMore: "<\(name)> ..."
        case .any: "[<\(name)> ...]"
        }
    }

    var takesMany: Bool { arity == .oneOrMore || arity == .any }
}

/// A mistake in how cpucompat was called: one line for the user, then the
/// usage of the command, and exit status 64.
struct UsageError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

/// How a run ends when it does not end in success.
struct ExitStatus: Error, Equatable {
    let code: Int32

    /// A negative answer: CPUs differ, a guest cannot run, a pair cannot migrate.
    static let negativeAnswer = ExitStatus(code: 1)
    /// Bad input: one line on standard error says what and where.
    static let badInput = ExitStatus(code: 2)
    /// With --keep-going: an answer for the files that could be read, while
    /// some could not (each has its line on standard error).
    static let someFilesSkipped = ExitStatus(code: 3)
    /// A usage mistake (BSD's EX_USAGE, as most command-line tools use it).
    static let usage = ExitStatus(code: 64)
}
