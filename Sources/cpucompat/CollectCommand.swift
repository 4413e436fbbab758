import CPUCompat

#if canImport(Glibc)
import Glibc
#endif

struct CollectCommand: Command {
    static let spec = CommandSpec(
        name: "collect",
        abstract: "Fetch virsh capabilities and domcapabilities from live hosts over ssh.",
        discussion: """
        For each HOST, runs `virsh capabilities` and `virsh domcapabilities` there \
        through ssh (the ssh on your PATH, so your ~/.ssh/config, agent, jump hosts \
        and known_hosts apply) and writes exactly what virsh printed to DIR/HOST.xml \
        and DIR/HOST-domcaps.xml. HOST is an ssh destination (kvm02, admin@kvm03, \
        a Host alias of your ssh configuration); - is this machine, whose virsh runs \
        without ssh and whose files are named after its host name.

        cpucompat never reads or stores a password: ssh runs with BatchMode=yes, so a \
        host that would ask for a password or a passphrase fails instead (use keys \
        and an agent), and so does a host whose key is not in known_hosts yet \
        (connect once by hand, or --ssh-option StrictHostKeyChecking=accept-new). \
        Each command is one ssh connection (ControlMaster in your ssh \
        configuration shares one). ssh also runs without a terminal (-T), and without agent and \
        X11 forwarding (-a -x), which virsh does not need; then come the \
        --ssh-option values, then LogLevel=ERROR and a ConnectTimeout 10 s past \
        --timeout (an option of yours comes first and wins), then -- and HOST, so \
        no host name is read as an option. The remote \
        command is `virsh -c URI capabilities` with each word quoted for the remote \
        shell.

        Each output is checked by cpucompat's own reader with the CPU map in use \
        (--cpu-map) before it is kept: a capabilities file must read as one host \
        CPU, a domcapabilities file as one host-model CPU. A host's files are \
        written, each atomically (a temporary file renamed over the old one), only \
        when everything asked of it succeeded; a host that fails gets no new file \
        (an older one stays as it was) and one line on standard error naming the \
        host and the reason: unreachable, authentication, host key, no virsh, a \
        virsh error, output the reader refuses, the time limit. The other hosts are \
        still collected. Drivers without domcapabilities (libvirt's test driver) \
        need --no-domcaps.

        Up to --jobs hosts are collected at once; the report, one line per \
        collected host with the CPU the reader found in each file, comes on \
        standard output when all are done, in the order the hosts were given (on a \
        terminal, standard error shows progress meanwhile). Host names must be \
        usable as file names: not empty, no /, not starting with a dot, no control \
        characters; a host given twice is refused.

        EXIT STATUS
          0  every host was collected
          2  bad input: a host name that cannot be one, an unreadable --hosts-from
             file, a missing or unwritable output folder, an unusable CPU map
          3  some hosts failed (each has its line on standard error); the others
             were written
         64  bad usage
        """,
        arguments: [ArgumentSpec("host", .any, help: "ssh destinations (host, user@host, a Host alias); - for this machine.")],
        options: MapOptions.options + [
            .value("hosts-from", "file", completion: .anyFile,
                   help: "Read hosts from this file, one a line (# starts a comment line); - for standard input."),
            .value("output", short: "o", "dir", default: ".", completion: .directory,
                   help: "The folder to write HOST.xml and HOST-domcaps.xml to; it must exist."),
            .value("ssh-option", "value", arity: .repeated,
                   help: "An option for ssh, passed as -o VALUE (Port=2222, User=admin, ProxyJump=bastion); repeat for more."),
            .value("ssh-config", "file", completion: .anyFile,
                   help: "An ssh configuration file to use instead of ~/.ssh/config (ssh -F)."),
            .value("virsh-connect", "uri", help: "The libvirt URI virsh connects to on each host (virsh -c), e.g. qemu:///system."),
            .value("virsh", "command", default: "virsh",
                   help: "The virsh command on each host: a name the remote shell finds, or a path."),
            .flag("no-domcaps", help: "Collect virsh capabilities only, not domcapabilities."),
            .integer("jobs", "n", default: 8, help: "How many hosts to collect at once."),
            .integer("timeout", "seconds", default: 60,
                     help: "Seconds a host has for everything collected from it; then its ssh and virsh are killed."),
            TextOrJSON.option,
        ],
        command: CollectCommand.self)

    let map: MapOptions
    let hosts: [String]
    let hostsFrom: String?
    let output: String
    let sshOption: [String]
    let sshConfig: String?
    let virshConnect: String?
    let virsh: String
    let noDomcaps: Bool
    let jobs: Int
    let timeout: Int
    let format: TextOrJSON

    init(_ arguments: ParsedArguments) throws(UsageError) {
        map = MapOptions(arguments)
        hosts = arguments.arguments("host")
        hostsFrom = arguments.value("hosts-from")
        output = arguments.requiredValue("output")
        sshOption = arguments.values("ssh-option")
        sshConfig = arguments.value("ssh-config")
        virshConnect = arguments.value("virsh-connect")
        virsh = arguments.requiredValue("virsh")
        noDomcaps = arguments.flag("no-domcaps")
        jobs = arguments.requiredInteger("jobs")
        timeout = arguments.requiredInteger("timeout")
        format = arguments.choice("format")

        if hosts.isEmpty, hostsFrom == nil { throw UsageError("give the hosts to collect, or --hosts-from FILE") }
        if jobs < 1 { throw UsageError("--jobs must be at least 1") }
        if timeout < 1 { throw UsageError("--timeout must be at least 1 second") }
        if timeout > 86_400 { throw UsageError("--timeout must be at most 86400 seconds (a day)") }
        if virsh.isEmpty { throw UsageError("--virsh must name a command") }
    }

    func run() throws {
        try reportingErrors {
            let cpuMap = try map.load()
            var all = hosts
            if let hostsFrom {
                all += try HostList.parse(CPUDefinitionReader.readBytes(contentsOf: hostsFrom), path: hostsFrom)
            }
            var settings = CollectionSettings(folder: output)
            settings.sshOptions = sshOption
            settings.sshConfigFile = sshConfig
            settings.virsh = virsh
            settings.connectURI = virshConnect
            settings.domainCapabilities = !noDomcaps
            settings.timeout = .seconds(timeout)
            settings.jobs = jobs

            let showProgress = isatty(STDERR_FILENO) != 0
            let report: CollectionReport
            do {
                defer { if showProgress { _ = FileDescriptorWriter.write(Array("\r\u{1B}[K".utf8), to: STDERR_FILENO) } }
                report = try cpuMap.collect(all, settings: settings) { done, failed, total in
                    guard showProgress else { return }
                    let line = "\rcpucompat: collected \(done) of \(total) hosts" + (failed > 0 ? " (\(failed) failed)" : "")
                    _ = FileDescriptorWriter.write(Array(line.utf8), to: STDERR_FILENO)
                }
            }
            switch format {
            case .json:
                try emit(try JSONValue(encoding: report).rendered)
            case .text:
                for host in report.hosts where host.failure == nil { try emit(host.line + "\n") }
            }
            for host in report.hosts where host.failure != nil { warn(host.line) }
            if report.failed > 0 {
                warn("\(report.failed) of \(report.hosts.count) host\(report.hosts.count == 1 ? "" : "s") failed")
                throw ExitStatus.someFilesSkipped
            }
        }
    }
}
