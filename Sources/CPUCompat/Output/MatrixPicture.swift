/// What the pictures of a matrix (``MigrationMatrix/svg``,
/// ``MigrationMatrix/html(listingEveryBlockedPair:)``, ``MigrationMatrix/dot``)
/// share: which groups they draw, how a cell is coloured, how a group is
/// labelled, and how text from the input is made safe for each format.
extension MigrationMatrix {
    /// Up to this many groups the pictures draw every group; beyond, only
    /// this many, those with the most hosts.
    ///
    /// At 200 groups a heat-map cell is 8 pixels and the picture about 1,800
    /// pixels wide: still a cell one can point at for its tooltip. More groups
    /// would make cells too small to see, and the SVG (a cell per ordered
    /// pair, 5 MB at 200 groups) grows with their square, so the pictures
    /// keep the groups that hold the most guests and say how many groups and
    /// hosts they leave out, and the HTML adds the summary of all groups
    /// (``summary``).
    public static let pictureGroupLimit = 200

    /// The indices of the groups the pictures draw, in group order: every
    /// group up to ``pictureGroupLimit``, else the ``pictureGroupLimit`` with
    /// the most hosts (of equal ones, the earlier).
    package var drawnGroupIndices: [Int] {
        guard groups.count > Self.pictureGroupLimit else { return Array(groups.indices) }
        return groups.indices.sorted { (groups[$1].hosts.count, $0) < (groups[$0].hosts.count, $1) }
            .prefix(Self.pictureGroupLimit).sorted()
    }

    /// How many hosts the matrix holds.
    var hostCount: Int { groups.reduce(0) { $0 + $1.hosts.count } }

    /// `G3 Haswell-noTSX-IBRS, x86-64-v3, 4 hosts`: a heat-map row's label.
    func pictureLabel(of group: Group) -> String {
        "\(group.name) \(group.model ?? "no model"), \(group.level?.description ?? "no x86-64 level"), "
            + "\(grouped(group.hosts.count)) host\(group.hosts.count == 1 ? "" : "s")"
    }

    /// The group's vendor, feature count and hosts (the first ten, then how
    /// many more), for a tooltip.
    func pictureDetails(of group: Group) -> String {
        let shown = group.hosts.prefix(10).joined(separator: ", ")
        let more = group.hosts.count > 10 ? " and \(grouped(group.hosts.count - 10)) more" : ""
        return "\(group.vendor ?? "no vendor"), \(group.featureCount) features; hosts: \(shown)\(more)"
    }

    /// `1,234 hosts in 56 groups; 789 of 3,080 ordered pairs of groups blocked`.
    var pictureSummaryLine: String {
        "\(grouped(hostCount)) host\(hostCount == 1 ? "" : "s") in \(grouped(groups.count)) group\(groups.count == 1 ? "" : "s")"
            + (hasFeatures ? "; \(grouped(summary.blockedPairs)) of \(grouped(summary.pairs)) ordered pairs of groups blocked" : "")
    }

    /// What a picture beyond ``pictureGroupLimit`` leaves out, or nil when it draws every group.
    func pictureOmission(drawing drawn: [Int]) -> String? {
        guard drawn.count < groups.count else { return nil }
        let drawnHosts = drawn.reduce(0) { $0 + groups[$1].hosts.count }
        return "drawn: the \(grouped(drawn.count)) groups with the most hosts (\(grouped(drawnHosts)) of \(grouped(hostCount)) hosts); "
            + "\(grouped(groups.count - drawn.count)) smaller groups left out (every group: --format text or json)"
    }
}

/// One heat-map cell: a pair of groups, what its colour says.
enum MatrixCell: Hashable, Sendable {
    /// The diagonal: a group to itself.
    case same
    /// Host-model guests can move from row to column.
    case canMigrate
    /// The destination lacks this many of the source's features.
    case missing(Int)
    /// A matrix decoded from JSON, which has no features to compare.
    case unknown

    init(_ pair: MigrationMatrix.Pair?, sameGroup: Bool) {
        if sameGroup { self = .same }
        else if let pair { self = pair.canMigrate ? .canMigrate : .missing(pair.missing.count) }
        else { self = .unknown }
    }

    /// A colour band of the legend: its label, fill, and the ink that reads on it.
    struct Band: Hashable, Sendable {
        var label: String
        var fill: String
        var ink: String
    }

    /// Missing-feature counts up to each bound share a colour (ColorBrewer's
    /// RdYlGn scale, light for few missing features, dark red for many).
    static let missingBands: [(upTo: Int, band: Band)] = [
        (2, Band(label: "1–2 missing", fill: "#fee08b", ink: "#000000")),
        (5, Band(label: "3–5", fill: "#fdae61", ink: "#000000")),
        (10, Band(label: "6–10", fill: "#f46d43", ink: "#000000")),
        (20, Band(label: "11–20", fill: "#d73027", ink: "#ffffff")),
        (Int.max, Band(label: "21 or more", fill: "#a50026", ink: "#ffffff")),
    ]
    static let canMigrateBand = Band(label: "ok: can migrate", fill: "#1a9850", ink: "#ffffff")
    static let sameBand = Band(label: "= same group", fill: "#d9d9d9", ink: "#000000")
    static let unknownBand = Band(label: "? not known (no features)", fill: "#ffffff", ink: "#000000")

    /// The bands the legend shows, in order.
    static func legend(known: Bool) -> [Band] {
        [canMigrateBand] + missingBands.map(\.band) + [sameBand] + (known ? [] : [unknownBand])
    }

    var band: Band {
        switch self {
        case .same: Self.sameBand
        case .canMigrate: Self.canMigrateBand
        case let .missing(count): Self.missingBands.first { count <= $0.upTo }?.band ?? Self.canMigrateBand
        case .unknown: Self.unknownBand
        }
    }

    /// What the cell says where it fits, as the text table does: `ok`, the count, `=`.
    var mark: String {
        switch self {
        case .same: "="
        case .canMigrate: "ok"
        case let .missing(count): String(count)
        case .unknown: "?"
        }
    }
}

extension String {
    /// The text safe inside XML character data and attribute values: control
    /// characters and line breaks shown escaped as diagnostics show them
    /// (`\n`, `\u{1b}`), the characters XML 1.0 forbids (U+FFFE, U+FFFF)
    /// likewise, and `& < > " '` as entity references. Unlike a diagnostic
    /// line, nothing is cut: a long host path is shown whole.
    var xmlEscaped: String {
        var result = ""
        for scalar in unicodeScalars {
            switch scalar {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&#39;"
            case "\u{FFFE}", "\u{FFFF}": result += "\\u{\(String(scalar.value, radix: 16))}"
            default: result += scalar.controlsShown
            }
        }
        return result
    }

    /// The text as the inside of a DOT double-quoted string: control
    /// characters shown escaped, a backslash doubled (Graphviz reads `\n`,
    /// `\N`, `\G` … in labels as escapes) and `"` escaped.
    var dotEscaped: String {
        var result = ""
        for scalar in unicodeScalars {
            switch scalar {
            case "\\": result += "\\\\"
            case "\"": result += "\\\""
            default: result += scalar.controlsShown.replacing("\\", with: "\\\\")
            }
        }
        return result
    }
}

extension Unicode.Scalar {
    /// The scalar as text, or for a line break or other control character
    /// (C0, DEL, C1, U+2028, U+2029) its escape, as ``CPUCompatError`` shows them.
    var controlsShown: String {
        switch self {
        case "\n": "\\n"
        case "\r": "\\r"
        case "\t": "\\t"
        case _ where value < 0x20 || (0x7F...0x9F).contains(value) || value == 0x2028 || value == 0x2029:
            "\\u{\(String(value, radix: 16))}"
        default: String(self)
        }
    }
}
