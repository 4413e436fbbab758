/// The matrix as an SVG heat map.
extension MigrationMatrix {
    /// The matrix as a standalone SVG document (`matrix --format svg`): a heat
    /// map with a cell per ordered pair of groups, row the group a host-model
    /// guest starts on and column the group it would move to, coloured `ok`
    /// or by how many features the destination lacks (a legend says which
    /// colour is which), the count written in the cell where it fits, and a
    /// tooltip (`<title>`) on every cell naming the missing features. Rows are
    /// labelled with the group's name, model, x86-64 level and host count,
    /// columns with the name. Cells shrink with the number of groups, to 8
    /// pixels at ``pictureGroupLimit`` groups; beyond, the picture draws the
    /// groups with the most hosts and says what it leaves out. The text is
    /// the same for the same matrix; it ends in a line break.
    public var svg: String {
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + svgElement + "\n"
    }

    /// The `<svg>` element alone, as the HTML page embeds it.
    var svgElement: String {
        let drawn = drawnGroupIndices
        let layout = HeatMapLayout(matrix: self, drawn: drawn)
        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(layout.width)\" height=\"\(layout.height)\" "
            + "viewBox=\"0 0 \(layout.width) \(layout.height)\" font-family=\"DejaVu Sans Mono, monospace\">\n"
        out += "<title>cpucompat matrix: \(pictureSummaryLine.xmlEscaped)</title>\n"
        out += "<rect width=\"\(layout.width)\" height=\"\(layout.height)\" fill=\"#ffffff\"/>\n"

        for (index, line) in layout.headerLines.enumerated() {
            out += "<text x=\"\(layout.margin)\" y=\"\(layout.headerBaseline(index))\" font-size=\"\(layout.headerFont(index))\""
                + (index == 0 ? " font-weight=\"bold\"" : "") + ">\(line.xmlEscaped)</text>\n"
        }

        let cell = layout.cell
        // Row labels: the full description, right-aligned against the grid, the hosts in a tooltip.
        out += "<g font-size=\"\(layout.labelFont)\" text-anchor=\"end\">\n"
        for (row, index) in drawn.enumerated() {
            let group = groups[index]
            out += "<text x=\"\(layout.gridLeft - 4)\" y=\"\(layout.baseline(inBandAt: layout.gridTop + row * cell, font: layout.labelFont))\">"
                + "<title>\(group.name.xmlEscaped): \(pictureDetails(of: group).xmlEscaped)</title>\(pictureLabel(of: group).xmlEscaped)</text>\n"
        }
        out += "</g>\n"

        // Column labels: the group's name, upright where it fits the cell, else reading upwards.
        out += "<g font-size=\"\(layout.labelFont)\"\(layout.uprightColumnLabels ? " text-anchor=\"middle\"" : "")>\n"
        for (column, index) in drawn.enumerated() {
            let group = groups[index]
            let centre = layout.gridLeft + column * cell + cell / 2
            let title = "<title>\(pictureLabel(of: group).xmlEscaped)</title>"
            if layout.uprightColumnLabels {
                out += "<text x=\"\(centre)\" y=\"\(layout.gridTop - 4)\">\(title)\(group.name.xmlEscaped)</text>\n"
            } else {
                out += "<text transform=\"translate(\(centre + layout.labelFont * 7 / 20),\(layout.gridTop - 4)) rotate(-90)\">"
                    + "\(title)\(group.name.xmlEscaped)</text>\n"
            }
        }
        out += "</g>\n"

        // The cells, row by row; a 1-pixel gap between them where cells are large enough to spare it.
        let gap = cell >= 12 ? 1 : 0
        var marks = ""
        for (row, from) in drawn.enumerated() {
            let top = layout.gridTop + row * cell
            for (column, to) in drawn.enumerated() {
                let pair = pair(at: from, to)
                let state = MatrixCell(pair, sameGroup: from == to)
                let left = layout.gridLeft + column * cell
                out += "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(cell - gap)\" height=\"\(cell - gap)\" fill=\"\(state.band.fill)\">"
                    + "<title>\(cellTitle(from: groups[from], to: groups[to], state: state, pair: pair).xmlEscaped)</title></rect>\n"
                if layout.fits(state.mark) {
                    marks += "<text x=\"\(left + (cell - gap) / 2)\" y=\"\(layout.baseline(inBandAt: top, font: layout.markFont))\""
                        + (state.band.ink == "#000000" ? "" : " fill=\"\(state.band.ink)\"") + ">\(state.mark)</text>\n"
                }
            }
        }
        if !marks.isEmpty {
            // Over the cells but transparent to the pointer, so a cell's tooltip shows over its count too.
            out += "<g font-size=\"\(layout.markFont)\" text-anchor=\"middle\" pointer-events=\"none\">\n" + marks + "</g>\n"
        }

        var x = layout.margin
        let legendTop = layout.legendTop
        out += "<g font-size=\"\(HeatMapLayout.legendFont)\">\n"
        for band in layout.legend {
            out += "<rect x=\"\(x)\" y=\"\(legendTop)\" width=\"\(HeatMapLayout.swatch)\" height=\"\(HeatMapLayout.swatch)\" "
                + "fill=\"\(band.fill)\" stroke=\"#808080\"/>"
                + "<text x=\"\(x + HeatMapLayout.swatch + 4)\" y=\"\(legendTop + HeatMapLayout.swatch - 2)\">\(band.label.xmlEscaped)</text>\n"
            x += HeatMapLayout.legendEntryWidth(band)
        }
        out += "</g>\n"
        for (index, line) in layout.footerLines.enumerated() {
            out += "<text x=\"\(layout.margin)\" y=\"\(layout.footerBaseline(index))\" font-size=\"\(HeatMapLayout.legendFont)\">"
                + "\(line.xmlEscaped)</text>\n"
        }
        out += "</svg>"
        return out
    }

    /// `G1 → G2: 3 features missing: avx2, bmi1, fma`, a cell's tooltip.
    private func cellTitle(from: Group, to: Group, state: MatrixCell, pair: Pair?) -> String {
        let route = "\(from.name) → \(to.name): "
        switch state {
        case .same: return "\(from.name): the same group"
        case .canMigrate: return route + "ok, host-model guests can migrate"
        case let .missing(count):
            return route + "\(count) feature\(count == 1 ? "" : "s") missing: " + (pair?.missing.joined(separator: ", ") ?? "")
        case .unknown: return route + "not known (a matrix read from JSON has no features)"
        }
    }
}

/// Where everything of the heat map goes, in whole pixels so that the SVG is
/// the same text wherever it is made. Text is set in a monospace font (DejaVu
/// Sans Mono, whose advance is 0.6 em), so its width is known from its length.
private struct HeatMapLayout {
    static let swatch = 12
    static let legendFont = 12
    static let legendLineHeight = 16

    let margin = 12
    /// The side of a cell: 40 pixels for a few groups, shrinking to 8.
    let cell: Int
    /// The size of the row and column labels.
    let labelFont: Int
    /// The size of the counts in the cells.
    let markFont: Int
    let headerLines: [String]
    let footerLines: [String]
    let legend: [MatrixCell.Band]
    let uprightColumnLabels: Bool
    let gridLeft: Int
    let gridTop: Int
    let rows: Int
    let width: Int
    let height: Int

    init(matrix: MigrationMatrix, drawn: [Int]) {
        rows = drawn.count
        cell = min(40, max(8, 1400 / max(1, rows)))
        labelFont = min(13, max(7, cell - 3))
        markFont = min(13, cell / 2)
        headerLines = ["Host-model guests, from row (the group a guest starts on) to column (where it would move)",
                       matrix.pictureSummaryLine]
        var footer: [String] = []
        if let omission = matrix.pictureOmission(drawing: drawn) { footer.append(omission) }
        if drawn.count < matrix.groups.count, !matrix.summary.blockingFeatures.isEmpty {
            footer.append("features missing in the most pairs of all groups: "
                + matrix.summary.blockingFeatures.prefix(5).map { "\($0.feature) (\(grouped($0.pairs)))" }.joined(separator: ", "))
        }
        footer.append("Point at a cell for the features its destination lacks, at a label for the group's hosts.")
        footerLines = footer
        legend = MatrixCell.legend(known: matrix.hasFeatures)

        let labels = drawn.map { matrix.pictureLabel(of: matrix.groups[$0]) }
        let names = drawn.map { matrix.groups[$0].name }
        let widestName = Self.textWidth(names.map(\.count).max() ?? 0, font: labelFont)
        uprightColumnLabels = widestName <= cell - 2
        let columnLabelHeight = uprightColumnLabels ? labelFont + 4 : widestName + 8
        let headerHeight = 14 + 6 + Self.legendLineHeight
        gridTop = margin + headerHeight + 8 + columnLabelHeight
        gridLeft = margin + Self.textWidth(labels.map(\.count).max() ?? 0, font: labelFont) + 8
        let gridRight = gridLeft + rows * cell
        let legendWidth = legend.reduce(0) { $0 + Self.legendEntryWidth($1) }
        let textWidths = headerLines.map { Self.textWidth($0.count, font: 14) }
            + footerLines.map { Self.textWidth($0.count, font: Self.legendFont) }
        width = max(gridRight, margin + legendWidth, margin + (textWidths.max() ?? 0)) + margin
        height = gridTop + rows * cell + 12 + Self.swatch + 8 + footerLines.count * Self.legendLineHeight + margin
    }

    /// The width of `count` characters of the monospace font at `font` pixels, rounded up.
    static func textWidth(_ count: Int, font: Int) -> Int { (count * font * 61 + 99) / 100 }

    static func legendEntryWidth(_ band: MatrixCell.Band) -> Int {
        swatch + 4 + textWidth(band.label.count, font: legendFont) + 16
    }

    func headerFont(_ line: Int) -> Int { line == 0 ? 14 : Self.legendFont }

    func headerBaseline(_ line: Int) -> Int { margin + 14 + line * (6 + Self.legendLineHeight) }

    var legendTop: Int { gridTop + rows * cell + 12 }

    func footerBaseline(_ line: Int) -> Int { legendTop + Self.swatch + 8 + (line + 1) * Self.legendLineHeight - 4 }

    /// The baseline that centres text of `font` pixels in a cell-high band
    /// starting at `top` (capitals are about 0.7 em high).
    func baseline(inBandAt top: Int, font: Int) -> Int { top + (cell * 10 + font * 7) / 20 }

    /// Whether a cell's mark fits inside it.
    func fits(_ mark: String) -> Bool { cell >= 16 && Self.textWidth(mark.count, font: markFont) <= cell - 4 }
}
