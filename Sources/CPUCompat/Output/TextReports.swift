/// Plain-text renderings of the reports, for people at a terminal.
extension CPUDiff {
    /// The diff as text: the two missing lists as libvirt would name them, then the baseline.
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
    /// The report as text: one line per model, newest first, with the hosts
    /// that cannot run it grouped by what they lack.
    public var text: String {
        var lines = ["\(hosts.count) host\(hosts.count == 1 ? "" : "s"); models newest first, with the hosts that cannot run them:"]
        let width = models.map { $0.displayName.count }.max() ?? 0
        for model in models {
            let name = model.displayName.padding(to: width)
            let count = "\(model.runnableOn)/\(hosts.count)"
            lines.append("  \(name)  \(count)\(model.runnableOn == hosts.count ? "  runs everywhere" : "")")
            for blockers in model.blocked {
                lines += wrapped(blockers.hosts.joined(separator: ", ") + (blockers.hosts.count == 1 ? " lacks" : " lack"),
                                 blockers.missing, indent: 6)
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
                + (partial.hostsLeftOut.isEmpty ? "" : "; left out: \(partial.hostsLeftOut.joined(separator: ", "))"))
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

extension ModelUsabilityReport.Model {
    /// `Haswell-v4 (Haswell-noTSX-IBRS)` for a version, else the name.
    var displayName: String { canonical.map { "\(name) (\($0))" } ?? name }
}

extension MigrationMatrix {
    /// The matrix as text: groups, a table of missing-feature counts
    /// (`ok` where a guest can move, `=` on the diagonal), the missing lists,
    /// and what each group loses under the cluster baseline.
    public var text: String {
        var lines = ["groups of hosts with identical CPU features:"]
        for group in groups {
            let hostList = group.hosts.count > 5
                ? group.hosts.prefix(5).joined(separator: ", ") + ", … (\(group.hosts.count) hosts)"
                : group.hosts.joined(separator: ", ")
            lines.append("  \(group.name): \(group.model ?? "no model"), \(group.vendor ?? "no vendor"), "
                + "\(group.level?.description ?? "no x86-64 level"), \(group.featureCount) features: \(hostList)")
        }
        lines.append("host-model guests, from row to column (ok: can migrate; N: features missing):")
        let width = max(4, (groups.map(\.name.count).max() ?? 2) + 2)
        lines.append((String(repeating: " ", count: width + 2) + groups.map { $0.name.padding(to: width) }.joined()).trailingSpacesRemoved)
        for (i, from) in groups.enumerated() {
            var row = "  " + from.name.padding(to: width)
            for j in groups.indices {
                let cell = pair(at: i, j).map { $0.canMigrate ? "ok" : String($0.missing.count) } ?? "="
                row += cell.padding(to: width)
            }
            lines.append(row.trailingSpacesRemoved)
        }
        let blocked = pairs.filter { !$0.canMigrate }
        if !blocked.isEmpty {
            lines.append("missing features:")
            for pair in blocked { lines += wrapped("\(pair.from) → \(pair.to)", pair.missing, indent: 2) }
        }
        if let baseline {
            lines.append("cluster baseline: " + baseline.summaryLine)
            for group in groups {
                lines += group.lostUnderBaseline.isEmpty ? ["  \(group.name) loses: nothing"]
                    : wrapped("\(group.name) loses", group.lostUnderBaseline, indent: 2)
            }
            for warning in baseline.warnings { lines += wrappedWords("warning: " + warning) }
        } else if let baselineError {
            lines.append("cluster baseline: none (\(baselineError))")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

extension Explanation {
    /// The explanation as text.
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
private func wrap(_ pieces: [String], first: String, continuation: String, separator: String, width: Int = 100) -> [String] {
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
