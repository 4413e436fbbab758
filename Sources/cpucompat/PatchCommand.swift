import CPUCompat

struct PatchCommand: Command {
    static let spec = CommandSpec(
        name: "patch",
        abstract: "Rewrite a guest's <cpu> so it runs on every given host.",
        discussion: """
        Replaces only the <cpu> element of the domain XML in DOMAIN; every other \
        byte (comments, quotes, white space, metadata) stays as it was. The new \
        <cpu> is indented like its siblings. Patching a patched file changes nothing.

        --strategy model (the default): mode='custom' match='exact' check='partial' \
        with the hosts' baseline model and fallback='forbid', the vendor when all \
        hosts share one, policy='require' for common features beyond the model that \
        a guest can get, and policy='disable' for model features some host lacks. \
        Features KVM never gives guests (ds, acpi, ht, tm, pbe, dtes64, monitor, \
        ds_cpl, smx, est, tm2, xtpr, osxsave) and migratable='no' ones (invtsc) are \
        never required; a note on standard error says so.

        --strategy disable: mode='host-model' check='partial' with one \
        policy='disable' feature for each feature some but not all hosts have.

        Children of <cpu> that are not about model and features (<topology>, \
        <numa>, <cache>, <maxphysaddr>) are kept. Existing <feature> entries are \
        merged: no duplicates, and where our policy differs ours wins, with a note. \
        A host-passthrough or maximum guest is converted, with a warning.

        The result goes to standard output, to --output FILE, or with --in-place \
        back to DOMAIN: through a temporary file in the same folder that is \
        flushed and renamed over the original, keeping its mode and owner, under a \
        lock so concurrent runs do not mix. On any error the original is left \
        byte for byte as it was.
        """,
        arguments: [ArgumentSpec("domain", completion: .xmlFile, help: "The domain XML to patch; - for standard input.")],
        options: MapOptions.options + [
            .value("host", "file", arity: .repeated, completion: .xmlFile,
                   help: "A host the guest must run on (capabilities, domcapabilities or <cpu>, or a folder of them); repeat for each host."),
            .value("baseline", "file", completion: .xmlFile,
                   help: "A baseline <cpu> (from cpucompat baseline or virsh cpu-baseline) instead of --host."),
            .choice("strategy", "strategy", of: PatchStrategy.self, default: .model,
                    help: "model: a named model all hosts support; disable: host-model minus what some host lacks."),
            .flag("in-place", help: "Replace DOMAIN itself instead of printing the result."),
            .value("backup", "suffix", help: "With --in-place, keep the previous file as DOMAIN followed by this suffix."),
            .flag("follow-symlinks", help: "With --in-place or --output, write through a symbolic link to its target instead of refusing."),
            .value("output", "file", completion: .anyFile,
                   help: "Write the result to this file instead of standard output (- is standard output).",
                   discussion: "A regular file is replaced atomically; a FIFO or a device (/dev/stdout) is written through, never replaced; a symbolic link is refused unless --follow-symlinks."),
            .flag("diff", help: "Print a unified diff of the change instead of the document."),
            .flag("quiet", short: "q", help: "Print no notes (the result and errors only)."),
        ],
        command: PatchCommand.self)

    let map: MapOptions
    let domain: String
    let hosts: [String]
    let baseline: String?
    let strategy: PatchStrategy
    let inPlace: Bool
    let backup: String?
    let followSymlinks: Bool
    let output: String?
    let diff: Bool
    let quiet: Bool

    init(_ arguments: ParsedArguments) throws(UsageError) {
        map = MapOptions(arguments)
        domain = arguments.argument("domain")
        hosts = arguments.values("host")
        baseline = arguments.value("baseline")
        strategy = arguments.choice("strategy")
        inPlace = arguments.flag("in-place")
        backup = arguments.value("backup")
        followSymlinks = arguments.flag("follow-symlinks")
        output = arguments.value("output")
        diff = arguments.flag("diff")
        quiet = arguments.flag("quiet")

        if !hosts.isEmpty, baseline != nil {
            throw UsageError("--host and --baseline conflict: give the hosts, or a baseline computed from them, not both")
        }
        if baseline != nil, strategy == .disable { throw UsageError("--strategy disable needs the hosts (--host)") }
        if inPlace, domain == "-" { throw UsageError("--in-place needs a file, not standard input") }
        if inPlace, output != nil { throw UsageError("--in-place and --output exclude each other") }
        if backup != nil, !inPlace { throw UsageError("--backup goes with --in-place") }
        if backup?.isEmpty == true { throw UsageError("--backup needs a non-empty suffix") }
        if backup?.contains("/") == true {
            throw UsageError("--backup is a suffix for the file's name (.orig), not a path: it must not contain '/'")
        }
        if hosts.isEmpty, baseline == nil {
            throw UsageError("give each host the guest must run on with --host FILE (a file or a folder), or a --baseline file")
        }
    }

    func run() throws {
        try reportingErrors {
            let destination: DomainPatchJob.Destination =
                if inPlace { .inPlace(backupSuffix: backup) }
                else if let output, output != "-", !diff { .file(output) }
                else { .result }
            let job = DomainPatchJob(domain: domain, target: baseline.map { .baseline($0) } ?? .hosts(hosts, strategy: strategy),
                                     destination: destination, followSymlinks: followSymlinks)
            let outcome = try job.run(with: map.load())
            if !quiet { for note in outcome.notes { warn("note: \(note)") } }
            if diff {
                try emit(UnifiedDiff.render(from: outcome.original, to: outcome.patched, oldName: domain, newName: domain))
            } else if destination == .result {
                try emit(outcome.patched)
            }
        }
    }
}
