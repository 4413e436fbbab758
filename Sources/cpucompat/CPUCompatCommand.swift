import CPUCompat

@main
enum CPUCompatCommand {
    static let version = "0.1.0"

    static let spec = CommandSpec(
        group: "cpucompat",
        abstract: "Find the CPU model and features a KVM guest can use on every host.",
        discussion: """
        cpucompat reads libvirt's CPU map and the CPU descriptions of KVM hosts \
        (virsh capabilities, virsh domcapabilities, or <cpu> elements) and answers \
        the questions of live migration between different CPUs: what one host has \
        that another lacks, which named CPU model all of them support, and how a \
        guest's <cpu> must look to run on all of them.

        Every FILE may be - for standard input. Results go to standard output; \
        problems go to standard error as one line, `cpucompat: FILE:LINE: what is wrong`.

        EXIT STATUS
          0  success (diff: CPUs equal; compare: the guest can run there;
             matrix/models --check: every host can; guests: every guest can
             go everywhere; preflight: the upgrade breaks nothing)
          1  a negative answer (diff: CPUs differ; compare: it cannot run there;
             matrix/models --check: some host cannot; guests: some guest
             cannot; preflight: something would break)
          2  bad input: unreadable, malformed or unknown files and names, a guest
             where a host is expected, a failed write of the output
          3  an answer for part: --keep-going skipped some files, or collect
             could not collect some hosts
         64  bad usage: unknown options, missing arguments, conflicting options

        SHELL COMPLETION
          cpucompat --generate-completion-script bash|zsh|fish

        MANUAL PAGE
          cpucompat --generate-manual > /usr/local/share/man/man1/cpucompat.1
        """,
        subcommands: [DiffCommand.spec, BaselineCommand.spec, PatchCommand.spec, CompareCommand.spec,
                      ModelsCommand.spec, CollectCommand.spec, MatrixCommand.spec, GuestsCommand.spec,
                      ExportCommand.spec, PreflightCommand.spec, ExplainCommand.spec, MapCommand.spec]
    )

    static func main() {
        // A closed pipe is a failed write to report (exit 2), not a silent death.
        signal(SIGPIPE, SIG_IGN)
        exit(CommandLineRunner(root: spec, version: version).run(Array(CommandLine.arguments.dropFirst())))
    }
}

#if canImport(Glibc)
import Glibc
#endif
