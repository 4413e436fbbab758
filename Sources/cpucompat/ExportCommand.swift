import CPUCompat

/// The `export` group: its commands write the hosts' CPUs in a platform's terms.
enum ExportCommand {
    static let spec = CommandSpec(
        group: "export",
        abstract: "Write the hosts' CPUs in a virtualisation platform's own terms.",
        discussion: """
        KubeVirt and OpenStack Nova do not take a domain's <cpu>: they write it \
        from their own settings. `export kubevirt` gives the node labels KubeVirt's \
        node-labeller sets and the cpuModel every node runs; `export nova` gives the \
        nova.conf [libvirt] settings every compute host supports and each host's \
        placement traits.
        """,
        subcommands: [ExportKubeVirtCommand.spec, ExportNovaCommand.spec])
}

/// Output formats of `export kubevirt`.
enum KubeVirtFormat: String, CaseIterable {
    case yaml, json, kubectl
}

/// Output formats of `export nova`.
enum NovaFormat: String, CaseIterable {
    case ini, json
}

struct ExportKubeVirtCommand: Command {
    static let spec = CommandSpec(
        name: "kubevirt",
        abstract: "The KubeVirt node labels of each host, and the cpuModel every node runs.",
        discussion: """
        Each HOST is a node's `virsh domcapabilities` (what KubeVirt's node-labeller \
        reads), given as FILE or NAME=FILE; without NAME the node name is the file's \
        name less `.xml` and a trailing `-domcaps`. For each node: \
        cpu-feature.node.kubevirt.io/F for every feature of the host-model CPU \
        (its model's, plus the required, less the disabled ones: what \
        `virsh hypervisor-cpu-baseline --features` marks require); \
        cpu-model.node.kubevirt.io/M and cpu-model-migration.node.kubevirt.io/M for \
        every model the file does not mark usable='no', less the obsolete ones; \
        cpu-model-migration.node.kubevirt.io/ and host-model-cpu.node.kubevirt.io/ \
        for the host-model's model (node-labeller.kubevirt.io/obsolete-host-model \
        instead of the first when it is obsolete); \
        host-model-required-features.node.kubevirt.io/F for its required features; \
        cpu-vendor.node.kubevirt.io/V. Every value is "true".

        Then the cluster: of the models every node labels, the one with the most \
        features, to set as the KubeVirt CR's spec.configuration.cpuModel or a VM's \
        spec.template.spec.domain.cpu.model.

        --format yaml (the default) writes one Node document per node with only \
        metadata.name and metadata.labels (for `kubectl patch node NAME --type merge \
        --patch-file` or `kubectl apply --server-side -f`) and a KubeVirt document \
        setting the cpuModel; json the whole report; kubectl `kubectl label` and \
        `kubectl patch` commands.
        """,
        arguments: [ArgumentSpec("host", .oneOrMore, completion: .xmlFile, help: "Nodes' domcapabilities: FILE or NAME=FILE.")],
        options: MapOptions.options + [
            .value("obsolete-models", "models",
                   help: "Comma-separated models never labelled (the KubeVirt CR's spec.configuration.obsoleteCPUModels).",
                   discussion: "Without it, KubeVirt's default list: 486, pentium, pentium2, pentium3, pentiumpro, coreduo, n270, core2duo, Conroe, athlon, phenom, qemu64, qemu32, kvm64, kvm32, Opteron_G1, Opteron_G2, and each one's -v1."),
            .value("kubevirt", "namespace/name", default: "kubevirt/kubevirt", help: "The KubeVirt CR to patch with the cpuModel."),
            .choice("format", "format", of: KubeVirtFormat.self, default: .yaml, help: "Output format: yaml, json or kubectl."),
        ],
        command: ExportKubeVirtCommand.self)

    let map: MapOptions
    let hosts: [String]
    let obsoleteModels: String?
    let kubeVirt: String
    let format: KubeVirtFormat

    init(_ arguments: ParsedArguments) throws(UsageError) {
        map = MapOptions(arguments)
        hosts = arguments.arguments("host")
        obsoleteModels = arguments.value("obsolete-models")
        kubeVirt = arguments.requiredValue("kubevirt")
        format = arguments.choice("format")
        let parts = kubeVirt.split(separator: "/", omittingEmptySubsequences: false)
        if parts.count != 2 || parts.contains(where: \.isEmpty) { throw UsageError("--kubevirt must be NAMESPACE/NAME") }
        if hosts.contains(where: { $0.hasPrefix("=") || $0.hasSuffix("=") }) {
            throw UsageError("a host is FILE or NAME=FILE, with neither part empty")
        }
    }

    func run() throws {
        try reportingErrors {
            let cpuMap = try map.load()
            var nodes: [(name: String, host: CPU)] = []
            for argument in hosts {
                let (name, path) = Self.nodeNameAndPath(argument)
                nodes.append((name, try cpuMap.readSingleHostCPU(contentsOf: path)))
            }
            let obsolete = obsoleteModels.map { $0.split(separator: ",").map { String($0.filter { !$0.isWhitespace }) }.filter { !$0.isEmpty } } ?? KubeVirt.defaultObsoleteModels
            let export = try cpuMap.x86Architecture(for: nodes.map(\.host)).kubeVirtExport(of: nodes, obsoleteModels: obsolete)
            let parts = kubeVirt.split(separator: "/").map(String.init)
            switch format {
            case .yaml: try emit(export.yaml(kubeVirtNamespace: parts[0], kubeVirtName: parts[1]))
            case .json: try emit(try JSONValue(encoding: export).rendered)
            case .kubectl: try emit(export.kubectlCommands(kubeVirtNamespace: parts[0], kubeVirtName: parts[1]))
            }
        }
    }

    /// `kvm02=path` as given, else the file's name less `.xml` and `-domcaps`.
    static func nodeNameAndPath(_ argument: String) -> (String, String) {
        if let equals = argument.firstIndex(of: "="), !argument[..<equals].contains("/") {
            return (String(argument[..<equals]), String(argument[argument.index(after: equals)...]))
        }
        var name = String(argument.split(separator: "/").last ?? Substring(argument))
        for suffix in [".xml", "-domcaps"] where name.hasSuffix(suffix) && name.count > suffix.count {
            name.removeLast(suffix.count)
        }
        return (name, argument)
    }
}

struct ExportNovaCommand: Command {
    static let spec = CommandSpec(
        name: "nova",
        abstract: "The nova.conf CPU settings every compute host supports, and each host's traits.",
        discussion: """
        Each HOST is a compute host's `virsh domcapabilities` (a `virsh capabilities` \
        works, with a warning: it lists features KVM may not give a guest). The \
        output is a [libvirt] section: cpu_mode = custom; cpu_models, the --models \
        newest named models every host runs, oldest first as Nova expects (Nova \
        gives a guest whose flavor requests no CPU traits the first one, and a \
        flavor requiring traits the first that has them); cpu_model_extra_flags, \
        the features every host has beyond the newest of them, less those that \
        block live migration (invtsc). A model qualifies when every host has its \
        features, it is of the hosts' vendor, it is not a mere alias of another \
        model, and every domcapabilities file marks it usable='yes'.

        Each host's HW_CPU_X86_* traits are those Nova's libvirt driver derives \
        from its features (the table CPU_TRAITS_MAPPING of \
        nova/virt/libvirt/utils.py), feature names matched with their aliases \
        (sse3 is libvirt's pni, pclmulqdq its pclmuldq).
        """,
        arguments: HostArguments.arguments,
        options: MapOptions.options + HostArguments.options + [
            .integer("models", "n", default: 1, help: "How many of the newest models every host runs cpu_models lists."),
            .choice("format", "format", of: NovaFormat.self, default: .ini, help: "Output format: ini or json."),
        ],
        command: ExportNovaCommand.self)

    let map: MapOptions
    let input: HostArguments
    let models: Int
    let format: NovaFormat

    init(_ arguments: ParsedArguments) throws(UsageError) {
        map = MapOptions(arguments)
        input = HostArguments(arguments)
        models = arguments.requiredInteger("models")
        format = arguments.choice("format")
        if models < 1 { throw UsageError("--models must be at least 1") }
    }

    func run() throws {
        try reportingErrors {
            let cpuMap = try map.load()
            let (hosts, skippedSome) = try input.load(cpuMap)
            let export = try cpuMap.x86Architecture(for: hosts).novaExport(of: hosts, modelCount: models)
            for warning in export.warnings { warn(warning) }
            try emit(format == .json ? try JSONValue(encoding: export).rendered : export.ini)
            if skippedSome { throw ExitStatus.someFilesSkipped }
        }
    }
}
