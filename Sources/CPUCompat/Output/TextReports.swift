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
        } else if let baselineError {
            lines.append("baseline: none (\(baselineError))")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

extension Baseline {
    /// `IvyBridge-IBRS, vendor Intel, fallback allow`.
    var summaryLine: String {
        "\(model), vendor \(vendor ?? "unspecified"), fallback \(fallback.rawValue)"
    }

    /// The require and disable lists, indented, one line each.
    var featureLines: [String] {
        ["  require: \(require.isEmpty ? "none" : require.joined(separator: ","))",
         "  disable: \(disable.isEmpty ? "none" : disable.joined(separator: ","))"]
    }
}

extension CPUSummary {
    /// `Haswell-noTSX-IBRS, Intel`, or what is known of it.
    var describedModel: String {
        [model ?? "no model", vendor ?? "no vendor"].joined(separator: ", ")
    }
}
