import ArgumentParser
import CPUCompat

struct PatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "patch",
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
        """)

    @OptionGroup var map: MapOptions

    @Argument(help: ArgumentHelp("The domain XML to patch; - for standard input.", valueName: "domain"),
              completion: .file(extensions: ["xml"]))
    var domain: String

    @Option(name: .customLong("host"), help: ArgumentHelp(
        "A host the guest must run on (capabilities, domcapabilities or <cpu>, or a folder of them); repeat for each host.",
        valueName: "file"),
        completion: .file(extensions: ["xml"]))
    var hosts: [String] = []

    @Option(help: ArgumentHelp("A baseline <cpu> (from cpucompat baseline or virsh cpu-baseline) instead of --host.",
                               valueName: "file"), completion: .file(extensions: ["xml"]))
    var baseline: String?

    @Option(help: "model: a named model all hosts support; disable: host-model minus what some host lacks.")
    var strategy: PatchStrategy = .model

    @Flag(help: "Replace DOMAIN itself instead of printing the result.")
    var inPlace = false

    @Option(help: ArgumentHelp("With --in-place, keep the previous file as DOMAIN followed by this suffix.", valueName: "suffix"))
    var backup: String?

    @Flag(help: "With --in-place or --output, write through a symbolic link to its target instead of refusing.")
    var followSymlinks = false

    @Option(help: ArgumentHelp(
        "Write the result to this file instead of standard output (- is standard output).",
        discussion: "A regular file is replaced atomically; a FIFO or a device (/dev/stdout) is written through, never replaced; a symbolic link is refused unless --follow-symlinks.",
        valueName: "file"),
            completion: .file())
    var output: String?

    @Flag(help: "Print a unified diff of the change instead of the document.")
    var diff = false

    @Flag(name: .shortAndLong, help: "Print no notes (the result and errors only).")
    var quiet = false

    func validate() throws {
        if !hosts.isEmpty, baseline != nil {
            throw ValidationError("--host and --baseline conflict: give the hosts, or a baseline computed from them, not both")
        }
        if baseline != nil, strategy == .disable { throw ValidationError("--strategy disable needs the hosts (--host)") }
        if inPlace, domain == "-" { throw ValidationError("--in-place needs a file, not standard input") }
        if inPlace, output != nil { throw ValidationError("--in-place and --output exclude each other") }
        if backup != nil, !inPlace { throw ValidationError("--backup goes with --in-place") }
        if backup?.isEmpty == true { throw ValidationError("--backup needs a non-empty suffix") }
        if backup?.contains("/") == true {
            throw ValidationError("--backup is a suffix for the file's name (.orig), not a path: it must not contain '/'")
        }
    }

    func run() throws {
        // Checked here, not in validate(), so that a misspelt --hosts is reported as such first.
        if hosts.isEmpty, baseline == nil {
            throw ValidationError("give each host the guest must run on with --host FILE (a file or a folder), or a --baseline file")
        }
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

extension PatchStrategy: ExpressibleByArgument {}
