import ArgumentParser
import CPUCompat

#if canImport(Glibc)
import Glibc
#endif

/// Hosts given as files or folders, shared by the fleet commands.
struct HostArguments: ParsableArguments {
    @Argument(help: ArgumentHelp("Host files (capabilities, domcapabilities, <cpu>) or folders of *.xml files.",
                                 valueName: "host"),
              completion: .file())
    var hosts: [String]

    /// Reads the hosts, showing progress on a terminal for long runs.
    func load(_ map: CPUMap) throws -> [CPU] {
        let showProgress = isatty(STDERR_FILENO) != 0
        var standardError = StandardError()
        defer { if showProgress { print("\r\u{1B}[K", terminator: "", to: &standardError) } }
        return try map.readHosts(hosts) { done, total in
            if showProgress, total >= 200, done % 100 == 0 || done == total {
                print("\rcpucompat: read \(done) of \(total) hosts", terminator: "", to: &standardError)
            }
        }
    }
}

struct ModelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models",
        abstract: "List the named CPU models each host can run, and what blocks the others.",
        discussion: """
        For every named model of the hosts' vendor (and vendor-neutral models; every \
        model with --all), newest first: how many hosts can run it (its features are \
        a subset of the host's) and, for the others, the features they lack in CPU-map \
        order, hosts with the same blockers listed together. Versions of another model \
        (Haswell-v4) show the model they stand for. Where a domcapabilities file marks \
        a model usable='no' or deprecated='yes', that is shown, and so is any \
        disagreement between the file and the features.

        Then the models every host can run and the best of them (the one a baseline \
        picks when nothing needs disabling), and with --min-hosts K the best model at \
        least K hosts can run, with the hosts it leaves out.
        """)

    @OptionGroup var map: MapOptions
    @OptionGroup var input: HostArguments

    @Flag(help: "List models of every vendor, not only the hosts' vendors and vendor-neutral ones.")
    var all = false

    @Option(help: ArgumentHelp("Also find the best model at least this many hosts can run.", valueName: "k"))
    var minHosts: Int?

    @Option(help: "Output format: text or json.")
    var format: OutputFormat = .text

    func validate() throws {
        if format == .xml { throw ValidationError("models prints text or json, not xml") }
        if let minHosts, minHosts < 1 { throw ValidationError("--min-hosts must be at least 1") }
    }

    func run() throws {
        try reportingErrors {
            let cpuMap = try map.load()
            let hosts = try input.load(cpuMap)
            let report = try cpuMap.x86Architecture(for: hosts).modelUsability(of: hosts, includeAll: all, minHosts: minHosts)
            try emit(format == .json ? try JSONValue(encoding: report).rendered : report.text)
        }
    }
}

struct MatrixCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "matrix",
        abstract: "Show which hosts can take each other's host-model guests.",
        discussion: """
        A host-model guest started on host A can live-migrate to host B when every \
        feature of A is also on B. Hosts with identical CPU features form groups \
        (G1, G2, …), so a fleet reads as a few rows; the table gives, from row to \
        column, "ok" or the number of missing features, followed by the missing \
        lists. Last, the cluster baseline and what each group's guests would lose \
        under it.
        """)

    @OptionGroup var map: MapOptions
    @OptionGroup var input: HostArguments

    @Option(help: "Output format: text or json.")
    var format: OutputFormat = .text

    func validate() throws {
        if format == .xml { throw ValidationError("matrix prints text or json, not xml") }
    }

    func run() throws {
        try reportingErrors {
            let cpuMap = try map.load()
            let hosts = try input.load(cpuMap)
            let matrix = try cpuMap.x86Architecture(for: hosts).migrationMatrix(of: hosts)
            try emit(format == .json ? try JSONValue(encoding: matrix).rendered : matrix.text)
        }
    }
}

struct ExplainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Explain a CPU feature or model from the CPU map.",
        discussion: """
        For a feature (or one of its aliases): its CPUID leaf, subleaf, register and \
        bit, or MSR index and bit; its aliases; whether it is migratable; the oldest \
        model that has it and every model that has it. For a model: vendor, parent, \
        family/model signatures, features, x86-64 level, and what it adds over the \
        model before it of the same vendor.
        """)

    @OptionGroup var map: MapOptions

    @Argument(help: ArgumentHelp("Feature or model names.", valueName: "name"))
    var names: [String]

    @Option(help: "Output format: text or json.")
    var format: OutputFormat = .text

    func validate() throws {
        if format == .xml { throw ValidationError("explain prints text or json, not xml") }
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
