import CPUCompat

#if canImport(Glibc)
import Glibc
#endif

/// Hosts given as files or folders, shared by the commands that read a fleet.
struct HostArguments {
    static let arguments = [
        ArgumentSpec("host", .oneOrMore, completion: .anyFile,
                     help: "Host files (capabilities, domcapabilities, <cpu>; several may be concatenated) "
                         + "or folders of *.xml files; - for standard input."),
    ]

    static let options: [OptionSpec] = [
        .flag("recursive", help: "Read the subfolders of host folders too."),
        .flag("keep-going", help: "Report each unreadable or invalid host file (one line each) and answer for the others.",
              discussion: "The exit status is then 3 when some files were skipped."),
    ]

    let hosts: [String]
    let recursive: Bool
    let keepGoing: Bool

    init(_ arguments: ParsedArguments) {
        hosts = arguments.arguments("host")
        recursive = arguments.flag("recursive")
        keepGoing = arguments.flag("keep-going")
    }

    /// Reads the hosts, showing progress on a terminal for long runs; with
    /// --keep-going, says which files were skipped.
    ///
    /// - Returns: The hosts, and whether some files were skipped.
    func load(_ map: CPUMap) throws -> (hosts: [CPU], skippedSome: Bool) {
        let showProgress = isatty(STDERR_FILENO) != 0
        var standardError = StandardError()
        let inventory: HostInventory
        do {
            defer { if showProgress { print("\r\u{1B}[K", terminator: "", to: &standardError) } }
            inventory = try map.readHosts(hosts, recursive: recursive, keepGoing: keepGoing) { done, total in
                if showProgress, total >= 200, done % 100 == 0 || done == total {
                    print("\rcpucompat: read \(done) of \(total) hosts", terminator: "", to: &standardError)
                }
            }
        }
        for error in inventory.skipped { warn("skipped: \(error.description)") }
        return (inventory.hosts, !inventory.skipped.isEmpty)
    }
}

struct ModelsCommand: Command {
    static let spec = CommandSpec(
        name: "models",
        abstract: "List the named CPU models each host can run, and what blocks the others.",
        discussion: """
        For every named model of the hosts' vendor and vendor-neutral model that \
        some host can run (every model with --all), newest first: how many hosts can run it (its features are \
        a subset of the host's) and, for the others, the features they lack in CPU-map \
        order, hosts with the same blockers listed together. Versions of another model \
        (Haswell-v4) show the model they stand for. Where a domcapabilities file marks \
        a model usable='no' or deprecated='yes', that is shown, and so is any \
        disagreement between the file and the features.

        Then the models every host can run and the best of them (the one a baseline \
        picks when nothing needs disabling), and with --min-hosts K the best model at \
        least K hosts can run, with the hosts it leaves out.

        With --check MODEL, the exit status is 1 unless every host can run MODEL.
        """,
        arguments: HostArguments.arguments,
        options: MapOptions.options + HostArguments.options + [
            .flag("all", help: "List every model of every vendor, also those no host can run (by default: the hosts' vendors' and vendor-neutral models some host runs)."),
            .integer("min-hosts", "k", help: "Also find the best model at least this many hosts can run."),
            .value("check", "model", help: "Exit with status 1 unless every host can run this model."),
            TextOrJSON.option,
        ],
        command: ModelsCommand.self)

    let map: MapOptions
    let input: HostArguments
    let all: Bool
    let minHosts: Int?
    let check: String?
    let format: TextOrJSON

    init(_ arguments: ParsedArguments) throws(UsageError) {
        map = MapOptions(arguments)
        input = HostArguments(arguments)
        all = arguments.flag("all")
        minHosts = arguments.integer("min-hosts")
        check = arguments.value("check")
        format = arguments.choice("format")
        if let minHosts, minHosts < 1 { throw UsageError("--min-hosts must be at least 1") }
    }

    func run() throws {
        try reportingErrors {
            let cpuMap = try map.load()
            let (hosts, skippedSome) = try input.load(cpuMap)
            let x86 = try cpuMap.x86Architecture(for: hosts)
            if let check, x86.model(named: check) == nil {
                throw CPUCompatError.unknownModel(name: check, path: "--check", line: nil,
                                                  hint: NearestNames.nearest(to: check, in: x86.models.map(\.name))
                                                      .first.map { "did you mean \($0)?" })
            }
            let report = x86.modelUsability(of: hosts, includeAll: all, minHosts: minHosts)
            try emit(format == .json ? try JSONValue(encoding: report).rendered : report.text)
            if let check, !report.usableEverywhere.contains(check) {
                warn("not every host can run \(check)")
                throw ExitStatus.negativeAnswer
            }
            if skippedSome { throw ExitStatus.someFilesSkipped }
        }
    }
}

struct MatrixCommand: Command {
    static let spec = CommandSpec(
        name: "matrix",
        abstract: "Show which hosts can take each other's host-model guests.",
        discussion: """
        A host-model guest started on host A can live-migrate to host B when every \
        feature of A is also on B. Hosts with identical CPU features form groups \
        (G1, G2, …), so a fleet reads as a few rows; the table gives, from row to \
        column, "ok" or the number of missing features, followed by the missing \
        lists. Last, the cluster baseline and what each group's guests would lose \
        under it.

        Beyond 16 groups (a fleet of mixed generations, microcode and BIOS settings) \
        the text is a summary instead: the largest groups, how many ordered pairs of \
        groups cannot migrate, the groups whose guests can go to (or come from) the \
        fewest others, and the features missing in the most pairs. --pairs adds every \
        blocked pair, written as it is computed; the JSON always has the groups and \
        the summary, and has "pairs" (every ordered pair) up to 16 groups or with --pairs.

        --format svg draws the matrix as a heat map: a cell per ordered pair of \
        groups, from row to column, green where host-model guests can migrate, \
        else coloured by how many features the destination lacks (a legend says \
        which colour is which), the count in the cell where it fits and the \
        missing features in each cell's tooltip; rows are labelled with the \
        group's model, x86-64 level and host count. --format html is one \
        self-contained page (no scripts, nothing to fetch): that picture, a table \
        of the groups, the blocked pairs (up to 16 groups or with --pairs, else \
        the summary) and the baseline. --format dot is a Graphviz digraph with \
        an edge A -> B when A's guests can migrate to B, leaving out an edge that \
        two others imply (a group strictly between them), so A's guests can go \
        to every group reachable from A. A picture draws at most 200 groups, \
        cells shrinking to 8 pixels: beyond, the 200 groups with the most \
        hosts, saying how many groups and hosts it leaves out, since more \
        cells would be too small to see and the SVG grows with the square of \
        the groups (5 MB at 200; the text and JSON have every group).

        With --check, the exit status is 1 when some group cannot take another \
        group's host-model guests (0 when every host can take every other's).
        """,
        arguments: HostArguments.arguments,
        options: MapOptions.options + HostArguments.options + [
            .choice("format", "format", of: MatrixFormat.self, default: .text,
                    help: "Output format: text, json, or a picture: svg (a heat map), html (the heat map and tables), dot (Graphviz)."),
            .flag("pairs", help: "List every pair of groups, however many groups there are (text, json and html)."),
            .flag("check", help: "Exit with status 1 when some host cannot take another host's host-model guests."),
            .value("output", "file", completion: .anyFile,
                   help: "Write the result to this file instead of standard output (- is standard output).",
                   discussion: "A regular file is replaced atomically once the whole result is made (so it is held in memory: with --pairs for a large fleet, prefer standard output); a FIFO or a device is written through; a symbolic link is refused unless --follow-symlinks."),
            .flag("follow-symlinks", help: "With --output, write through a symbolic link to its target instead of refusing."),
        ],
        command: MatrixCommand.self)

    let map: MapOptions
    let input: HostArguments
    let format: MatrixFormat
    let pairs: Bool
    let check: Bool
    let output: String?
    let followSymlinks: Bool

    init(_ arguments: ParsedArguments) throws(UsageError) {
        map = MapOptions(arguments)
        input = HostArguments(arguments)
        format = arguments.choice("format")
        pairs = arguments.flag("pairs")
        check = arguments.flag("check")
        output = arguments.value("output")
        followSymlinks = arguments.flag("follow-symlinks")
        if followSymlinks, output == nil { throw UsageError("--follow-symlinks goes with --output") }
        if pairs, format == .svg || format == .dot {
            throw UsageError("--pairs goes with --format text, json or html: the \(format.rawValue) picture has every pair it draws")
        }
    }

    func run() throws {
        try reportingErrors {
            let cpuMap = try map.load()
            let (hosts, skippedSome) = try input.load(cpuMap)
            let matrix = try cpuMap.x86Architecture(for: hosts).migrationMatrix(of: hosts)
            let detailed = matrix.groups.count <= MigrationMatrix.detailedGroupLimit
            var result = ResultOutput(path: output, followSymlinks: followSymlinks)
            switch format {
            case .json:
                var value = try JSONValue(encoding: matrix)
                if detailed || pairs, case var .object(members) = value {
                    members["pairs"] = try JSONValue(encoding: matrix.pairs)
                    value = .object(members)
                }
                try result.write(value.rendered)
            case .svg: try result.write(matrix.svg)
            case .dot: try result.write(matrix.dot)
            case .html:
                // Written in pieces (to standard output as they come): with --pairs the blocked pairs can be far larger than memory.
                var pending = ""
                try matrix.writeHTML(listingEveryBlockedPair: pairs) { piece in
                    pending += piece
                    if pending.utf8.count >= 1 << 16 {
                        try result.write(pending)
                        pending = ""
                    }
                }
                try result.write(pending)
            case .text:
                try result.write(matrix.text)
                if pairs, !detailed {
                    // Written in pieces as the pairs are computed (to standard output as they come): the whole list can be far larger than memory.
                    var pending = "missing features:\n"
                    try matrix.forEachPair { pair in
                        for line in matrix.lines(for: pair) { pending += line + "\n" }
                        if pending.utf8.count >= 1 << 16 {
                            try result.write(pending)
                            pending = ""
                        }
                    }
                    try result.write(pending)
                }
            }
            try result.finish()
            if check, !matrix.everyHostCanTakeEveryOthersGuests { throw ExitStatus.negativeAnswer }
            if skippedSome { throw ExitStatus.someFilesSkipped }
        }
    }
}

struct ExplainCommand: Command {
    static let spec = CommandSpec(
        name: "explain",
        abstract: "Explain a CPU feature or model from the CPU map.",
        discussion: """
        For a feature (or one of its aliases): its CPUID leaf, subleaf, register and \
        bit, or MSR index and bit; its aliases; whether it is migratable; the oldest \
        model that has it and every model that has it. For a model: vendor, parent, \
        family/model signatures, features, x86-64 level, and what it adds over the \
        model before it of the same vendor.
        """,
        arguments: [ArgumentSpec("name", .oneOrMore, help: "Feature or model names.")],
        options: MapOptions.options + [TextOrJSON.option],
        command: ExplainCommand.self)

    let map: MapOptions
    let names: [String]
    let format: TextOrJSON

    init(_ arguments: ParsedArguments) {
        map = MapOptions(arguments)
        names = arguments.arguments("name")
        format = arguments.choice("format")
    }

    func run() throws {
        try reportingErrors {
            let cpuMap = try map.load()
            var explanations: [Explanation] = []
            for name in names { explanations.append(try cpuMap.explain(name)) }
            try emit(format == .json ? try JSONValue(encoding: explanations).rendered : explanations.map(\.text).joined(separator: "\n"))
        }
    }
}
