/// The matrix as a Graphviz graph.
extension MigrationMatrix {
    /// The matrix as a Graphviz `digraph` (`matrix --format dot`, for `dot
    /// -Tsvg`): a node per group labelled with its name, model, x86-64 level
    /// and host count (its hosts in the tooltip), and an edge A → B when
    /// host-model guests of A can migrate to B, except where that follows from
    /// two edges: A → B is left out when some group C lies strictly between
    /// them (A's features ⊊ C's ⊊ B's), since A → C → B already says it. So
    /// A's guests can go to exactly the groups reachable from A along edges;
    /// groups with the same features (of different vendors) point at each
    /// other. Beyond ``pictureGroupLimit`` groups it has the groups with the
    /// most hosts, as the SVG does. The text is the same for the same matrix
    /// (Graphviz's own layout is not ours); it ends in a line break.
    public var dot: String {
        let drawn = drawnGroupIndices
        var out = "// cpucompat matrix: \(CPUCompatError.oneLine(pictureSummaryLine))\n"
        out += "// An edge A -> B: host-model guests of A can migrate to B; edges implied by two others are left out,\n"
        out += "// so A's guests can go to every group reachable from A.\n"
        if let omission = pictureOmission(drawing: drawn) { out += "// \(CPUCompatError.oneLine(omission))\n" }
        out += "digraph \"migration\" {\n"
        out += "  graph [label=\"host-model guests migrate along the arrows\\n\(pictureSummaryLine.dotEscaped)\", labelloc=t];\n"
        out += "  node [shape=box, fontname=\"DejaVu Sans Mono\"];\n"
        for index in drawn {
            let group = groups[index]
            let label = [group.name, group.model ?? "no model",
                         "\(group.level?.description ?? "no x86-64 level"), \(grouped(group.hosts.count)) host\(group.hosts.count == 1 ? "" : "s")"]
            out += "  \"\(group.name.dotEscaped)\" [label=\"\(label.map(\.dotEscaped).joined(separator: "\\n"))\", "
                + "tooltip=\"\(pictureDetails(of: group).dotEscaped)\"];\n"
        }
        if hasFeatures {
            for (from, to) in migrationEdges(among: drawn) {
                out += "  \"\(groups[from].name.dotEscaped)\" -> \"\(groups[to].name.dotEscaped)\";\n"
            }
        } else {
            out += "  // no edges: a matrix read from JSON has no features to compare\n"
        }
        return out + "}\n"
    }

    /// The edges of ``dot`` among the `drawn` groups, row by row: (i, j) when
    /// i's guests can migrate to j and no drawn group lies strictly between.
    package func migrationEdges(among drawn: [Int]) -> [(from: Int, to: Int)] {
        let count = drawn.count
        var fits = [Bool](repeating: false, count: count * count)
        for i in 0..<count {
            for j in 0..<count where i != j { fits[i * count + j] = pair(at: drawn[i], drawn[j])?.canMigrate ?? false }
        }
        func strictlyBelow(_ i: Int, _ j: Int) -> Bool { fits[i * count + j] && !fits[j * count + i] }
        var edges: [(from: Int, to: Int)] = []
        for i in 0..<count {
            let above = (0..<count).filter { strictlyBelow(i, $0) }
            for j in 0..<count where fits[i * count + j] {
                let implied = strictlyBelow(i, j) && above.contains { $0 != j && strictlyBelow($0, j) }
                if !implied { edges.append((drawn[i], drawn[j])) }
            }
        }
        return edges
    }
}
