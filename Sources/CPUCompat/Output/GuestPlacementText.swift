extension GuestFleetReport {
    /// The report for people: per guest where it starts and migrates, what
    /// blocks it, and the fix; last, how many guests can go everywhere.
    public var text: String {
        var lines: [String] = []
        for placement in guests { lines += placement.lines(hostCount: hosts.count) }
        let mobile = guests.filter(\.canGoEverywhere).count
        lines.append("\(mobile) of \(guests.count) guest\(guests.count == 1 ? "" : "s") can start on every one of the "
                     + "\(hosts.count) host\(hosts.count == 1 ? "" : "s") and migrate between them")
        if let fix = guests.lazy.compactMap(\.fix).first {
            lines.append("fix for the others (\(strategy.rawValue)): " + fix.summary)
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

extension GuestPlacement {
    func lines(hostCount: Int) -> [String] {
        var lines = ["\(guest): " + describedCPU + (canGoEverywhere ? ", can go everywhere" : "")]
        if let note { lines += wrappedWords(note).map { "  " + $0 } }
        // A CPU of its own is the same everywhere: where it can run, it can start and migrate to.
        let ownCPU = migrations.isEmpty
        if cannotStart.isEmpty {
            lines.append(ownCPU ? "  can run on every host" : "  starts on every host")
        } else {
            lines += listed(ownCPU ? "can run on" : "starts on", startsOn.isEmpty ? ["no host"] : startsOn, indent: 2)
            for refusal in cannotStart { lines += refusal.lines(verb: ownCPU ? "cannot run on" : "cannot start on", indent: 2) }
        }
        for migration in migrations {
            let from = migration.from.count == 1 ? migration.from[0] : "\(migration.from[0]) (and \(migration.from.count - 1) "
                + "more with the same CPU)"
            let source = runningOn == nil ? "started on \(from)" : "running on \(from)"
            if migration.blocked.isEmpty {
                lines.append("  \(source): can migrate to every host")
            } else {
                lines.append("  \(source):")
                for refusal in migration.blocked { lines += refusal.lines(verb: "cannot migrate to", indent: 4) }
            }
        }
        return lines
    }

    /// `host-model (takes its CPU from the host it starts on)`, `custom Haswell-noTSX-IBRS`.
    private var describedCPU: String {
        switch (mode, model) {
        case ("none", _): "no CPU model"
        case let ("host-model", model?): "host-model, expanded to \(model) as in a running guest's XML"
        case let (_, model?): "\(mode) \(model)"
        default: "\(mode) (takes its CPU from the host it starts on)"
        }
    }
}

extension GuestPlacement.Refusal {
    func lines(verb: String, indent: Int) -> [String] {
        var lines = listed(verb, hosts, indent: indent)
        let margin = String(repeating: " ", count: indent + 4)
        if !missingFeatures.isEmpty { lines += wrapped("missing features", missingFeatures, indent: indent + 4) }
        if !extraFeatures.isEmpty { lines += wrapped("extra features", extraFeatures, indent: indent + 4) }
        if missingFeatures.isEmpty, extraFeatures.isEmpty { lines.append(margin + message) }
        return lines
    }
}

extension GuestCPUPlan {
    /// One line: `custom IvyBridge-IBRS, vendor Intel; require …; disable …`.
    var summary: String {
        var parts = [mode.rawValue + (model.map { " " + $0 } ?? "") + (vendor.map { ", vendor " + $0 } ?? "")]
        for policy in FeaturePolicy.allCases {
            let names = features.filter { $0.policy == policy }.map(\.name)
            if !names.isEmpty { parts.append(policy.rawValue + " " + names.joined(separator: ",")) }
        }
        return parts.joined(separator: "; ")
    }
}

/// `label: a, b, c` indented by `indent`: a list of hosts, wrapped at spaces.
private func listed(_ label: String, _ hosts: [String], indent: Int) -> [String] {
    let margin = String(repeating: " ", count: indent)
    let pieces = hosts.enumerated().map { $0.element + ($0.offset < hosts.count - 1 ? "," : "") }
    return wrap(pieces, first: margin + label + ": ", continuation: margin + "    ", separator: " ")
}
