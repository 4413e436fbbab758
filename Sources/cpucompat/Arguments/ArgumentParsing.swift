import CPUCompat

/// What the user gave a command, checked against its `CommandSpec`: every
/// option known, every value of the kind the option takes, every required
/// argument present.
///
/// Commands read it by the names their spec declares; asking for a name the
/// spec does not declare is a programming error and stops the program.
struct ParsedArguments {
    let spec: CommandSpec
    /// The values of each of the spec's options, in the order given; a flag
    /// has one empty value per use. (Arrays beside the spec's, not
    /// dictionaries: a dictionary type's first use costs more than the parse.)
    private var given: [[String]]
    /// The values of each of the spec's positional arguments.
    private var positional: [[String]]

    /// Parses `words` (the arguments after the command's name) for `spec`.
    ///
    /// Options may come before, between and after the arguments; `--name=value`
    /// and `--name value` are the same, and short options stack as getopt's do
    /// (`-qq`, `-oDIR`); `--` ends the options; `-` alone is an argument
    /// (standard input). A value may not start with `-` unless it is `-`
    /// itself, a negative number for a numeric option, or attached (`--name=value`).
    ///
    /// - Throws: `UsageError` naming the first mistake.
    init(_ words: [String], for spec: CommandSpec) throws(UsageError) {
        self.spec = spec
        given = Array(repeating: [], count: spec.options.count)
        positional = Array(repeating: [], count: spec.arguments.count)
        var loose: [String] = []
        var index = 0
        var optionsEnded = false
        while index < words.count {
            let word = words[index]
            index += 1
            if optionsEnded || word == "-" || !word.hasPrefix("-") {
                loose.append(word)
                continue
            }
            if word == "--" {
                optionsEnded = true
                continue
            }
            for (slot, attached) in try Self.options(in: word, of: spec) {
                let option = spec.options[slot]
                switch option.arity {
                case .flag:
                    if let attached {
                        throw UsageError("\(option.usageName) takes no value, but '\(attached)' was given")
                    }
                    given[slot].append("")
                case .single, .repeated:
                    let value: String
                    if let attached {
                        value = attached
                    } else if index < words.count, Self.canBeValue(words[index], of: option) {
                        value = words[index]
                        index += 1
                    } else {
                        throw UsageError("\(option.usageName) needs a value")
                    }
                    try Self.check(value, of: option)
                    if option.arity == .single { given[slot] = [value] } else { given[slot].append(value) }
                case .upToNextOption:
                    var values = attached.map { [$0] } ?? []
                    while index < words.count, Self.canBeValue(words[index], of: option) {
                        values.append(words[index])
                        index += 1
                    }
                    if values.isEmpty { throw UsageError("\(option.usageName) needs a value") }
                    given[slot] += values
                }
            }
        }
        for (slot, option) in spec.options.enumerated() where option.isRequired && given[slot].isEmpty {
            throw UsageError("missing \(option.usageName)")
        }
        try assign(loose)
    }

    /// The options `word` gives, as indices in the spec, each with the value
    /// attached to it: `--long` or `--long=value`; or short options as getopt
    /// reads them, flags stacked (`-qq`) and a short option with a value last,
    /// taking the rest of the word (`-oDIR`, `-o=DIR`) or else the next one.
    private static func options(in word: String, of spec: CommandSpec) throws(UsageError) -> [(slot: Int, attached: String?)] {
        if word.hasPrefix("--") {
            let body = word.dropFirst(2)
            let equals = body.firstIndex(of: "=")
            let name = body[..<(equals ?? body.endIndex)]
            let attached = equals.map { String(body[body.index(after: $0)...]) }
            if let slot = spec.options.firstIndex(where: { $0.long == name }) { return [(slot, attached)] }
            if let standard = OptionSpec.standard.first(where: { $0.long == name }), attached != nil {
                throw UsageError("\(standard.usageName) takes no value")
            }
            let nearest = NearestNames.nearest(to: String(name), in: spec.options.map(\.long))
            throw UsageError("unknown option '--\(name)'"
                             + (nearest.isEmpty ? "" : "; did you mean " + nearest.map { "'--\($0)'" }.joined(separator: " or ") + "?"))
        }
        var uses: [(slot: Int, attached: String?)] = []
        var letters = word.dropFirst()
        while let letter = letters.popFirst() {
            guard let slot = spec.options.firstIndex(where: { $0.short == letter }) else {
                throw UsageError("unknown option '-\(letter)'" + (word.count > 2 ? " in '\(word)'" : ""))
            }
            if spec.options[slot].arity == .flag {
                uses.append((slot, nil))
                continue
            }
            let rest = letters.first == "=" ? letters.dropFirst() : letters
            uses.append((slot, letters.isEmpty ? nil : String(rest)))
            break
        }
        return uses
    }

    /// Whether `word`, following `option`, is its value rather than the next option.
    private static func canBeValue(_ word: String, of option: OptionSpec) -> Bool {
        if word == "-" || !word.hasPrefix("-") { return true }
        return option.values == .integer && Int(word) != nil
    }

    /// Refuses a value `option` does not accept.
    private static func check(_ value: String, of option: OptionSpec) throws(UsageError) {
        switch option.values {
        case .any:
            return
        case .integer:
            guard Int(value) == nil else { return }
            let digits = value.first == "+" || value.first == "-" ? value.dropFirst() : value[...]
            let isNumber = !digits.isEmpty && digits.allSatisfy { $0.isASCII && $0.isNumber }
            throw UsageError("\(option.usageName): '\(value)' is " + (isNumber ? "too large" : "not a whole number"))
        case let .oneOf(words):
            if !words.contains(value) {
                throw UsageError("\(option.usageName): '\(value)' is not one of " + words.joined(separator: ", "))
            }
        }
    }

    /// Hands the positional words to the spec's arguments in order: a
    /// many-valued argument takes what the arguments after it leave.
    private mutating func assign(_ words: [String]) throws(UsageError) {
        let arguments = spec.arguments
        var remaining = words[...]
        for (position, argument) in arguments.enumerated() {
            let neededLater = arguments[(position + 1)...].filter { $0.arity == .one || $0.arity == .oneOrMore }.count
            let available = max(0, remaining.count - neededLater)
            let count: Int = switch argument.arity {
            case .one: min(1, remaining.count)
            case .oneOrMore, .any: available
            }
            if count == 0, argument.arity == .one || argument.arity == .oneOrMore {
                throw UsageError("missing \(argument.usage)")
            }
            positional[position] = Array(remaining.prefix(count))
            remaining = remaining.dropFirst(count)
        }
        if let extra = remaining.first { throw UsageError("unexpected argument '\(extra)'") }
    }

    /// The index of the declared option called `long`.
    private func slot(_ long: String) -> Int {
        guard let slot = spec.options.firstIndex(where: { $0.long == long }) else {
            preconditionFailure("\(spec.name) declares no option --\(long)")
        }
        return slot
    }

    /// Whether the flag `--long` was given.
    func flag(_ long: String) -> Bool {
        let slot = slot(long)
        precondition(spec.options[slot].arity == .flag)
        return !given[slot].isEmpty
    }

    /// The value of `--long`: the last one given, else its default.
    func value(_ long: String) -> String? {
        let slot = slot(long)
        return given[slot].last ?? spec.options[slot].defaultValue
    }

    /// The value of `--long`, which always has one: it is required or has a default.
    func requiredValue(_ long: String) -> String {
        guard let value = value(long) else { preconditionFailure("--\(long) is neither required nor has a default") }
        return value
    }

    /// Every value given to the repeatable `--long`, in order.
    func values(_ long: String) -> [String] {
        let slot = slot(long)
        precondition(spec.options[slot].arity != .single)
        return given[slot]
    }

    /// The value of the numeric `--long` (checked while parsing).
    func integer(_ long: String) -> Int? {
        precondition(spec.options[slot(long)].values == .integer)
        return value(long).flatMap { Int($0) }
    }

    /// The value of the numeric `--long`, which always has one: it is required or has a default.
    func requiredInteger(_ long: String) -> Int {
        guard let value = integer(long) else { preconditionFailure("--\(long) is neither required nor has a default") }
        return value
    }

    /// The value of `--long` as the case of `Choice` it names (checked while parsing).
    func choice<Choice: RawRepresentable>(_ long: String, as _: Choice.Type = Choice.self) -> Choice
    where Choice.RawValue == String {
        guard let word = value(long), let choice = Choice(rawValue: word) else {
            preconditionFailure("--\(long) has no default or an undeclared value")
        }
        return choice
    }

    /// The values of the positional argument `name`.
    func arguments(_ name: String) -> [String] {
        guard let position = spec.arguments.firstIndex(where: { $0.name == name }) else {
            preconditionFailure("\(spec.name) declares no argument <\(name)>")
        }
        return positional[position]
    }

    /// The value of the positional argument `name`, which takes exactly one.
    func argument(_ name: String) -> String {
        let values = arguments(name)
        precondition(values.count == 1, "<\(name)> takes one value")
        return values[0]
    }
}
