/// The matrix as one self-contained HTML page.
extension MigrationMatrix {
    /// The matrix as one HTML page (`matrix --format html`) that needs nothing
    /// else: the ``svg`` heat map inline, a table of the groups (model,
    /// vendor, level, features, hosts, what each loses under the cluster
    /// baseline), the blocked pairs with their missing features, and the
    /// cluster baseline; the style is inline and there are no scripts, links
    /// or images to fetch. The page is also well-formed XML.
    ///
    /// - Parameter listingEveryBlockedPair: List every blocked pair even
    ///   beyond ``detailedGroupLimit`` groups (as `--pairs` does); otherwise,
    ///   beyond it, the page has the ``summary`` instead (the heat map's
    ///   tooltips still name every drawn pair's missing features).
    /// - Returns: The page; the same text for the same matrix, ending in a line break.
    public func html(listingEveryBlockedPair: Bool = false) -> String {
        var page = ""
        writeHTML(listingEveryBlockedPair: listingEveryBlockedPair) { page += $0 }
        return page
    }

    /// Writes ``html(listingEveryBlockedPair:)`` in pieces, the blocked pairs
    /// as they are computed: with every pair listed, a page for thousands of
    /// groups can be far larger than memory.
    ///
    /// - Parameters:
    ///   - listingEveryBlockedPair: As for ``html(listingEveryBlockedPair:)``.
    ///   - write: Called with each piece of the page, in order.
    /// - Throws: What `write` throws; nothing more is written after it.
    public func writeHTML(listingEveryBlockedPair: Bool = false, to write: (String) throws -> Void) rethrows {
        var out = """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8"/>
        <title>cpucompat matrix: \(pictureSummaryLine.xmlEscaped)</title>
        <style>
        body { font-family: sans-serif; margin: 1.5em; color: #202020; }
        table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
        th, td { border: 1px solid #c0c0c0; padding: 0.2em 0.5em; text-align: left; vertical-align: top; }
        th { background: #f0f0f0; }
        td.number { text-align: right; }
        code, .features { font-family: monospace; }
        div.picture { overflow: auto; }
        </style>
        </head>
        <body>
        <h1>Migration of host-model guests</h1>
        <p>\(pictureSummaryLine.xmlEscaped). \(verdict.xmlEscaped)</p>

        """
        out += "<div class=\"picture\">\n" + svgElement + "\n</div>\n"
        out += groupTable
        try write(out)
        try writeBlockedPairs(listingEveryPair: listingEveryBlockedPair, to: write)
        try write(baselineSection + "</body>\n</html>\n")
    }

    private var verdict: String {
        guard hasFeatures else { return "Which pairs can migrate is not known: this matrix was read from JSON, without features." }
        return everyHostCanTakeEveryOthersGuests
            ? "Every host can take every other host's host-model guests."
            : "Some hosts cannot take other hosts' host-model guests."
    }

    private static func row(_ cells: [String], header: Bool = false, numeric: Set<Int> = []) -> String {
        let tag = header ? "th" : "td"
        return "<tr>" + cells.enumerated().map { index, text in
            "<\(tag)\(numeric.contains(index) ? " class=\"number\"" : "")>\(text.xmlEscaped)</\(tag)>"
        }.joined() + "</tr>\n"
    }

    private var groupTable: String {
        var out = "<h2>Groups of hosts with identical CPU features</h2>\n<table>\n"
        out += Self.row(["group", "model", "vendor", "x86-64 level", "features", "hosts", "loses under the cluster baseline"], header: true)
        for group in groups {
            let loses = baseline == nil ? "no baseline" : group.lostUnderBaseline.isEmpty ? "nothing" : group.lostUnderBaseline.joined(separator: ", ")
            out += Self.row([group.name, group.model ?? "no model", group.vendor ?? "no vendor", group.level?.description ?? "none",
                             String(group.featureCount), "\(grouped(group.hosts.count)): " + group.hosts.joined(separator: ", "), loses],
                            numeric: [4])
        }
        return out + "</table>\n"
    }

    private func writeBlockedPairs(listingEveryPair: Bool, to write: (String) throws -> Void) rethrows {
        let heading = "<h2>Pairs of groups that cannot migrate</h2>\n"
        guard hasFeatures else { return try write(heading + "<p>Not known: this matrix was read from JSON, without features.</p>\n") }
        guard groups.count > Self.detailedGroupLimit, !listingEveryPair else {
            guard !everyHostCanTakeEveryOthersGuests else {
                return try write(heading + "<p>None: every group can take every other group's host-model guests.</p>\n")
            }
            var pending = heading + "<table>\n" + Self.row(["from", "to", "missing", "features the destination lacks"], header: true)
            try forEachPair { pair in
                guard !pair.canMigrate else { return }
                pending += Self.row([pair.from, pair.to, String(pair.missing.count), pair.missing.joined(separator: ", ")], numeric: [2])
                if pending.utf8.count >= 1 << 16 {
                    try write(pending)
                    pending = ""
                }
            }
            return try write(pending + "</table>\n")
        }
        try write(summarySection(heading))
    }

    private func summarySection(_ heading: String) -> String {
        var out = heading
        out += "<p>\(grouped(summary.blockedPairs)) of \(grouped(summary.pairs)) ordered pairs of groups are blocked; "
            + "beyond \(Self.detailedGroupLimit) groups this page has the summary (every pair: <code>--pairs</code>).</p>\n"
        let others = groups.count - 1
        if !summary.fewestDestinations.isEmpty {
            out += "<h3>Groups whose guests can go to the fewest others</h3>\n<table>\n" + Self.row(["group", "can go to"], header: true)
            for reach in summary.fewestDestinations { out += Self.row([reach.group, "\(grouped(reach.groups)) of \(grouped(others))"]) }
            out += "</table>\n"
        }
        if !summary.fewestOrigins.isEmpty {
            out += "<h3>Groups that can take guests from the fewest others</h3>\n<table>\n" + Self.row(["group", "can take from"], header: true)
            for reach in summary.fewestOrigins { out += Self.row([reach.group, "\(grouped(reach.groups)) of \(grouped(others))"]) }
            out += "</table>\n"
        }
        if !summary.blockingFeatures.isEmpty {
            out += "<h3>Features missing in the most pairs</h3>\n<table>\n" + Self.row(["feature", "pairs"], header: true)
            for blocker in summary.blockingFeatures { out += Self.row([blocker.feature, grouped(blocker.pairs)], numeric: [1]) }
            out += "</table>\n"
        }
        return out
    }

    private var baselineSection: String {
        var out = "<h2>Cluster baseline</h2>\n"
        guard let baseline else { return out + "<p>None: \((baselineError ?? "no hosts").xmlEscaped)</p>\n" }
        out += "<p><code>\(baseline.summaryLine.xmlEscaped)</code></p>\n<ul>\n"
        for line in baseline.featureLines { out += "<li><code>\(line.trimmingLeadingSpaces.xmlEscaped)</code></li>\n" }
        for warning in baseline.warnings { out += "<li>warning: \(warning.xmlEscaped)</li>\n" }
        return out + "</ul>\n"
    }
}

extension String {
    fileprivate var trimmingLeadingSpaces: String { String(drop { $0 == " " }) }
}
