import ArgumentParser
import CPUCompat

@main
struct CPUCompatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cpucompat",
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
        """,
        version: "0.1.0",
        subcommands: [DiffCommand.self, BaselineCommand.self, PatchCommand.self, CompareCommand.self,
                      ModelsCommand.self, CollectCommand.self, MatrixCommand.self, GuestsCommand.self,
                      ExportCommand.self, PreflightCommand.self, ExplainCommand.self, MapCommand.self]
    )

    static func main() {
        // A closed pipe is a failed write to report (exit 2), not a silent death.
        signal(SIGPIPE, SIG_IGN)
        // The parser reports a misspelt command as "unexpected arguments"; say what was meant.
        let names = configuration.subcommands.map { $0.configuration.commandName ?? "" }
        if let first = CommandLine.arguments.dropFirst().first, !first.hasPrefix("-"), !names.contains(first), first != "help" {
            let nearest = NearestNames.nearest(to: first, in: names)
            warn("unknown command '\(first)'" + (nearest.isEmpty ? "" : " (did you mean \(nearest.joined(separator: ", "))?)")
                 + "; the commands are " + names.joined(separator: ", "))
            Glibc.exit(ExitCode.validationFailure.rawValue)
        }
        main(nil)
    }
}

#if canImport(Glibc)
import Glibc
#endif
