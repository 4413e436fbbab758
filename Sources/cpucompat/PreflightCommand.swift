import CPUCompat

struct PreflightCommand: Command {
    static let spec = CommandSpec(
        name: "preflight",
        abstract: "Check what a libvirt or QEMU upgrade of a host breaks.",
        discussion: """
        OLD and NEW are the same host's `virsh domcapabilities` (or `virsh \
        capabilities`) before and after the upgrade. The report lists the \
        host-model features that appeared (a host-model guest started after the \
        upgrade cannot migrate to hosts not yet upgraded: "missing features") and \
        vanished (guests started before cannot migrate in, custom guests requiring \
        them cannot start), features written under another name of the same \
        feature, and the models that are no longer usable, no longer listed, newly \
        deprecated or newly usable.

        Each GUEST (a domain or a <cpu>) is checked: a custom guest that ran on OLD \
        and cannot start on NEW, or whose model QEMU no longer offers; a host-model \
        guest that cannot migrate from OLD to NEW or from NEW back to OLD. A domain \
        without <cpu> runs QEMU's default model and is skipped with a note.

        Exit status: 0 when nothing breaks, 1 when something would break (with \
        --allow-new-features, appeared features alone do not count: every host is \
        upgraded before guests move back), 2 on bad input.
        """,
        arguments: [
            ArgumentSpec("old", completion: .xmlFile, help: "The host before the upgrade."),
            ArgumentSpec("new", completion: .xmlFile, help: "The same host after the upgrade."),
            ArgumentSpec("guest", .any, completion: .xmlFile, help: "Guests to check: domain XML or <cpu> files."),
        ],
        options: MapOptions.options + [
            .flag("allow-new-features", help: "Do not count host-model features that appeared as breaking."),
            TextOrJSON.option,
        ],
        command: PreflightCommand.self)

    let map: MapOptions
    let old: String
    let new: String
    let guests: [String]
    let allowNewFeatures: Bool
    let format: TextOrJSON

    init(_ arguments: ParsedArguments) {
        map = MapOptions(arguments)
        old = arguments.argument("old")
        new = arguments.argument("new")
        guests = arguments.arguments("guest")
        allowNewFeatures = arguments.flag("allow-new-features")
        format = arguments.choice("format")
    }

    func run() throws {
        let report = try reportingErrors {
            let cpuMap = try map.load()
            let before = try cpuMap.readSingleHostCPU(contentsOf: old)
            let after = try cpuMap.readSingleHostCPU(contentsOf: new)
            // A capabilities CPU lists features a host-model CPU leaves out: across kinds they would seem to appear.
            if before.definition.source != after.definition.source {
                throw CPUCompatError.invalidCPU(
                    path: new, line: after.definition.line,
                    message: "is \(after.definition.source.describedAsInput) while \(old) is \(before.definition.source.describedAsInput): "
                        + "compare the same kind of file from before and after the upgrade")
            }
            var guestCPUs: [CPU] = []
            for guest in guests {
                do {
                    guestCPUs.append(try cpuMap.readSingleCPU(contentsOf: guest))
                } catch let error as CPUCompatError {
                    guard case let .noCPU(path) = error else { throw error }
                    warn("\(path): no <cpu>: the guest runs QEMU's default model; not checked")
                }
            }
            return try cpuMap.x86Architecture(for: [before, after] + guestCPUs)
                .upgradePreflight(before: before, after: after, guests: guestCPUs, allowNewFeatures: allowNewFeatures)
        }
        try reportingErrors {
            try emit(format == .json ? try JSONValue(encoding: report).rendered : report.text)
        }
        if report.somethingBreaks { throw ExitStatus.negativeAnswer }
    }
}

extension CPUDefinition.Source {
    /// What the input was, as the operator made it.
    var describedAsInput: String {
        switch self {
        case .capabilities: "virsh capabilities output"
        case .domainCapabilities: "virsh domcapabilities output"
        case .domain: "a domain definition"
        case .cpu: "a <cpu> element"
        }
    }
}
