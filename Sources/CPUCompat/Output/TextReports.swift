/// Plain-text renderings of the reports, for people at a terminal.
extension CPUDiff {
    /// The diff as `cpucompat diff` prints it: the two CPUs, the two missing
    /// lists comma-separated as libvirt writes them (`none` when empty), then
    /// the baseline with its `require` and `disable` lists and warnings, or
    /// why there is none; it ends in a line break.
    public var text: String {
        var lines = [
            "source:      \(source.path) (\(source.describedModel))",
            "destination: \(destination.path) (\(destination.describedModel))",
            "missing on destination: \(missingOnDestination.isEmpty ? "none" : missingOnDestination.joined(separator: ","))",
            "missing on source: \(missingOnSource.isEmpty ? "none" : missingOnSource.joined(separator: ","))",
        ]
        if let baseline {
            lines.append("baseline: " + baseline.summaryLine)
            lines += baseline.featureLines
            lines += baseline.warnings.map { "warning: \($0)" }
        } else if let baselineError {
            lines.append("baseline: none (\(baselineError))")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

extension Baseline {
    /// `IvyBridge-IBRS, vendor Intel, fallback allow, level x86-64-v2`.
    var summaryLine: String {
        "\(model), vendor \(vendor ?? "unspecified"), fallback \(fallback.rawValue), level \(level?.description ?? "none")"
    }

    /// The require and disable lists, indented, one line each.
    var featureLines: [String] {
        ["  require: \(require.isEmpty ? "none" : require.joined(separator: ","))",
         "  disable: \(disable.isEmpty ? "none" : disable.joined(separator: ","))"]
    }
}

extension CPUSummary {
    /// `Haswell-noTSX-IBRS, Intel, x86-64-v3`, or what is known of it.
    var describedModel: String {
        [model ?? "no model", vendor ?? "no vendor", level?.description ?? "no x86-64 level"].joined(separator: ", ")
    }
}

extension ModelUsabilityReport {
    /// Up to this many hosts ``text`` lists every host that cannot run a
    /// model; beyond, for each model, the three largest groups of such hosts
    /// (naming three hosts of each) and a count of the other groups.
    package static let detailedHostLimit = 16

    /// The report as `cpucompat models` prints it: one line per model, newest
    /// first, with how many hosts run it and the hosts that cannot, grouped by
    /// what they lack; then the models usable on every host, the best, and
    /// the best on at least ``Partial/minHosts`` hosts; it ends in a line break.
    public var text: String {
        var lines = ["\(hosts.count) host\(hosts.count == 1 ? "" : "s"); models newest first, with the hosts that cannot run them:"]
        let width = models.map { $0.displayName.count }.max() ?? 0
        // For a large fleet, the largest groups of blocked hosts and a count of the rest (the JSON has all).
        let condensed = hosts.count > Self.detailedHostLimit
        for model in models {
            let name = model.displayName.padding(to: width)
            let count = "\(model.runnableOn)/\(hosts.count)"
            lines.append("  \(name)  \(count)\(model.runnableOn == hosts.count ? "  runs everywhere" : "")")
            let blocked = condensed ? Array(model.blocked.enumerated().sorted { ($1.element.hosts.count, $0.offset) < ($0.element.hosts.count, $1.offset) }
                .prefix(3).map(\.element)) : model.blocked
            for blockers in blocked {
                let shown = condensed && blockers.hosts.count > 3
                    ? blockers.hosts.prefix(3).joined(separator: ", ") + " and \(grouped(blockers.hosts.count - 3)) more"
                    : blockers.hosts.joined(separator: ", ")
                lines += wrapped(shown + (blockers.hosts.count == 1 ? " lacks" : " lack"), blockers.missing, indent: 6)
            }
            if blocked.count < model.blocked.count {
                let rest = model.blocked.count - blocked.count
                lines.append("      and \(grouped(rest)) more group\(rest == 1 ? "" : "s") of hosts lacking other features (--format json)")
            }
            for declaration in model.declared {
                var remark: [String] = []
                if declaration.deprecated { remark.append("deprecated") }
                if let disagreement = declaration.disagreement { remark.append(disagreement) }
                if !remark.isEmpty {
                    lines.append("      \(declaration.host) (usable='\(declaration.usable ?? "?")'): \(remark.joined(separator: "; "))")
                }
            }
        }
        lines += usableEverywhere.isEmpty ? ["usable on every host: none"] : wrapped("usable on every host", usableEverywhere, indent: 0)
        lines.append("best: \(best ?? "none")")
        if let partial {
            lines.append("best on at least \(partial.minHosts) host\(partial.minHosts == 1 ? "" : "s"): \(partial.model ?? "none")"
                + (partial.hostsLeftOut.isEmpty ? "" : "; left out: " + (partial.hostsLeftOut.count > 10
                    ? partial.hostsLeftOut.prefix(10).joined(separator: ", ") + " and \(grouped(partial.hostsLeftOut.count - 10)) more"
                    : partial.hostsLeftOut.joined(separator: ", "))))
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

extension ModelUsabilityReport.Model {
    /// `Haswell-v4 (Haswell-noTSX-IBRS)` for a version, else the name.
    var displayName: String { canonical.map { "\(name) (\($0))" } ?? name }
}

extension MigrationMatrix {
    /// Up to this many groups ``text`` shows the whole table and every
    /// blocked pair (16 columns still fit a terminal); beyond, a summary.
    package static let detailedGroupLimit = 16

    /// The matrix as text: for a few groups, the groups, a table of
    /// missing-feature counts (`ok` where a guest can move, `=` on the
    /// diagonal) and the missing lists; for many, a summary (the largest
    /// groups, how many pairs are blocked, the most confined groups, the
    /// features that block the most pairs). Last, the cluster baseline. It
    /// ends in a line break.
    public var text: String {
        var lines = groups.count <= Self.detailedGroupLimit ? detailedLines : summaryLines
        lines += baselineLines
        return lines.joined(separator: "\n") + "\n"
    }

    /// The lines for one pair that cannot migrate, as ``text`` and `matrix --pairs` print them.
    ///
    /// - Parameter pair: A pair of this matrix.
    /// - Returns: `G1 → G2: a,b,c`, indented by two and wrapped at commas
    ///   within 100 columns; no lines for a pair that can migrate.
    package func lines(for pair: Pair) -> [String] {
        pair.canMigrate ? [] : wrapped("\(pair.from) → \(pair.to)", pair.missing, indent: 2)
    }

    private func describe(_ group: Group) -> String {
        let hostList = group.hosts.count > 5
            ? group.hosts.prefix(5).joined(separator: ", ") + ", … (\(group.hosts.count) hosts)"
            : group.hosts.joined(separator: ", ")
        return "  \(group.name): \(group.model ?? "no model"), \(group.vendor ?? "no vendor"), "
            + "\(group.level?.description ?? "no x86-64 level"), \(group.featureCount) features: \(hostList)"
    }

    private var detailedLines: [String] {
        var lines = ["groups of hosts with identical CPU features:"]
        for group in groups { lines += wrappedWords(describe(group)) }
        lines.append("host-model guests, from row to column (ok: can migrate; N: features missing):")
        let width = max(4, (groups.map(\.name.count).max() ?? 2) + 2)
        lines.append((String(repeating: " ", count: width + 2) + groups.map { $0.name.padding(to: width) }.joined()).trailingSpacesRemoved)
        var blocked: [String] = []
        for i in groups.indices {
            var row = "  " + groups[i].name.padding(to: width)
            for j in groups.indices {
                let pair = pair(at: i, j)
                row += (pair.map { $0.canMigrate ? "ok" : String($0.missing.count) } ?? "=").padding(to: width)
                if let pair { blocked += self.lines(for: pair) }
            }
            lines.append(row.trailingSpacesRemoved)
        }
        if !blocked.isEmpty { lines += ["missing features:"] + blocked }
        return lines
    }

    private var summaryLines: [String] {
        let hostCount = groups.reduce(0) { $0 + $1.hosts.count }
        var lines = ["\(grouped(hostCount)) hosts in \(grouped(groups.count)) groups of identical CPU features; the largest:"]
        let largest = groups.indices.sorted { (groups[$1].hosts.count, $0) < (groups[$0].hosts.count, $1) }.prefix(10)
        for index in largest { lines += wrappedWords(describe(groups[index])) }
        lines.append("host-model guests cannot migrate across \(grouped(summary.blockedPairs)) of \(grouped(summary.pairs)) "
                     + "ordered pairs of groups")
        let others = groups.count - 1
        if !summary.fewestDestinations.isEmpty {
            lines.append("groups whose guests can go to the fewest others:")
            for reach in summary.fewestDestinations { lines.append("  \(reach.group): \(grouped(reach.groups)) of \(grouped(others))") }
        }
        if !summary.fewestOrigins.isEmpty {
            lines.append("groups that can take guests from the fewest others:")
            for reach in summary.fewestOrigins { lines.append("  \(reach.group): \(grouped(reach.groups)) of \(grouped(others))") }
        }
        if !summary.blockingFeatures.isEmpty {
            lines.append("features missing in the most pairs:")
            for blocker in summary.blockingFeatures { lines.append("  \(blocker.feature): \(grouped(blocker.pairs)) pairs") }
        }
        lines.append("(every blocked pair: --pairs; everything: --format json)")
        return lines
    }

    private var baselineLines: [String] {
        if let baseline {
            var lines = ["cluster baseline: " + baseline.summaryLine]
            if groups.count <= Self.detailedGroupLimit {
                for group in groups {
                    lines += group.lostUnderBaseline.isEmpty ? ["  \(group.name) loses: nothing"]
                        : wrapped("\(group.name) loses", group.lostUnderBaseline, indent: 2)
                }
            } else if let most = groups.max(by: { $0.lostUnderBaseline.count < $1.lostUnderBaseline.count }) {
                let least = groups.map(\.lostUnderBaseline.count).min() ?? 0
                lines.append("  groups lose \(least) to \(most.lostUnderBaseline.count) features under it (most: \(most.name))")
            }
            for warning in baseline.warnings { lines += wrappedWords("warning: " + warning) }
            return lines
        }
        return baselineError.map { ["cluster baseline: none (\($0))"] } ?? []
    }
}

/// `1234567` as `1,234,567`.
func grouped(_ number: Int) -> String {
    let digits = String(number.magnitude)
    var result = ""
    for (position, digit) in digits.enumerated() {
        if position > 0, (digits.count - position) % 3 == 0 { result += "," }
        result.append(digit)
    }
    return (number < 0 ? "-" : "") + result
}

extension Explanation {
    /// The explanation as `cpucompat explain` prints it: for a feature its
    /// CPUID or MSR bits, aliases, migratability and models; for a model its
    /// vendor, parent, canonical name, signatures, level, features and what it
    /// adds over (and lacks from) the previous model; it ends in a line break.
    public var text: String {
        switch self {
        case let .feature(feature):
            var lines = ["feature \(feature.name)"]
            for location in feature.location { lines.append("  \(location)") }
            lines.append("  aliases: \(feature.aliases.isEmpty ? "none" : feature.aliases.joined(separator: ", "))")
            lines.append("  migratable: \(feature.migratable ? "yes" : "no")")
            lines.append("  oldest model with it: \(feature.oldestModel ?? "none")")
            lines.append("  models with it: \(feature.models.isEmpty ? "none" : feature.models.joined(separator: ", "))")
            return lines.joined(separator: "\n") + "\n"
        case let .model(model):
            var lines = ["model \(model.name)"]
            lines.append("  vendor: \(model.vendor ?? "none")")
            if let parent = model.parent { lines.append("  parent: \(parent)") }
            if let canonical = model.canonical { lines.append("  same as: \(canonical)") }
            lines.append("  signatures: \(model.signatures.isEmpty ? "none" : model.signatures.joined(separator: "; "))")
            lines.append("  level: \(model.level?.description ?? "none")")
            lines.append("  features (\(model.features.count)): \(model.features.joined(separator: ","))")
            if let previous = model.previousModel {
                lines.append("  adds over \(previous): \(model.addedFeatures.isEmpty ? "nothing" : model.addedFeatures.joined(separator: ","))")
                if !model.removedFeatures.isEmpty {
                    lines.append("  lacks from \(previous): \(model.removedFeatures.joined(separator: ","))")
                }
            }
            return lines.joined(separator: "\n") + "\n"
        }
    }
}

extension String {
    /// The string padded with spaces to `width` characters, plus one space.
    func padding(to width: Int) -> String {
        self + String(repeating: " ", count: max(0, width - count)) + " "
    }

    var trailingSpacesRemoved: String {
        var copy = self
        while copy.last == " " { copy.removeLast() }
        return copy
    }
}

/// `label: a,b,c` indented by `indent`, the list wrapped at commas so that no
/// line passes 100 columns, continuation lines indented four more: fleet
/// reports stay readable in a terminal and in mail.
func wrapped(_ label: String, _ items: [String], indent: Int) -> [String] {
    let margin = String(repeating: " ", count: indent)
    let pieces = items.enumerated().map { $0.element + ($0.offset < items.count - 1 ? "," : "") }
    return wrap(pieces, first: margin + label + ": ", continuation: margin + "    ", separator: "")
}

/// `text` broken at spaces so that no line passes 100 columns, continuation
/// lines indented by four.
func wrappedWords(_ text: String) -> [String] {
    wrap(text.split(separator: " ", omittingEmptySubsequences: false).map(String.init), first: "", continuation: "    ",
         separator: " ")
}

/// `pieces` joined by `separator` into lines of at most `width` columns (a
/// piece longer than that stands alone on its line).
func wrap(_ pieces: [String], first: String, continuation: String, separator: String, width: Int = 100) -> [String] {
    var lines: [String] = []
    var line = first
    var lineHasPieces = false
    for piece in pieces {
        if lineHasPieces, line.count + separator.count + piece.count > width {
            lines.append(line)
            line = continuation
            lineHasPieces = false
        }
        line += (lineHasPieces ? separator : "") + piece
        lineHasPieces = true
    }
    lines.append(line)
    return lines
}
