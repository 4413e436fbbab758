import Foundation
import FoundationXML
import Testing
@testable import CPUCompat

// The pictures of the migration matrix (svg, html, dot), drawn from the
// fixture hosts, a generated 50-group fleet and a fleet beyond the 200-group
// limit. The SVG is read back with FoundationXML (not the code under test)
// and checked with xmllint; it is rendered with rsvg-convert (Debian's
// librsvg2-bin, which CI installs) and the PNG decoded here (zlib's
// `uncompress` from the libz that rsvg-convert itself uses) to check the
// colour actually drawn in every cell. Every expectation comes from the
// hosts' feature sets and the colour bands written out below, by hand.

// MARK: - Expectations written out by hand

/// The fill a cell must have: green where guests can migrate, then the
/// bands 1–2, 3–5, 6–10, 11–20, 21+ missing features; grey on the diagonal.
private func expectedFill(missing: Int?, same: Bool) -> String {
    if same { return "#d9d9d9" }
    switch missing ?? 0 {
    case 0: return "#1a9850"
    case 1...2: return "#fee08b"
    case 3...5: return "#fdae61"
    case 6...10: return "#f46d43"
    case 11...20: return "#d73027"
    default: return "#a50026"
    }
}

private func rgb(_ hex: String) -> [UInt8] {
    let digits = Array(hex.dropFirst())
    return stride(from: 0, to: 6, by: 2).map { UInt8(String(digits[$0...$0 + 1]), radix: 16) ?? 0 }
}

/// A group as the tests compute it: first host's index, features, vendor, host count.
private struct ExpectedGroup {
    var features: FeatureSet
    var vendor: String?
    var hosts: [String]
    var model: String?
}

/// The groups of `hosts` in order of first appearance, keyed by features and vendor.
private func expectedGroups(_ hosts: [(path: String, features: FeatureSet, vendor: String?, model: String?)]) -> [ExpectedGroup] {
    var groups: [ExpectedGroup] = []
    for host in hosts {
        if let index = groups.firstIndex(where: { $0.features == host.features && $0.vendor == host.vendor }) {
            groups[index].hosts.append(host.path)
        } else {
            groups.append(ExpectedGroup(features: host.features, vendor: host.vendor, hosts: [host.path], model: host.model))
        }
    }
    return groups
}

// MARK: - Tools

private struct ToolRun {
    var status: Int32
    var stdout: Data
    var stderr: String
}

private func runTool(_ path: String, _ arguments: [String], input: Data? = nil) throws -> ToolRun {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let out = Pipe(), err = Pipe(), inPipe = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = inPipe
    try process.run()
    // Standard input is fed and the outputs drained concurrently, so a large picture cannot deadlock on a full pipe.
    let feeder = Thread { if let input { inPipe.fileHandleForWriting.write(input) }; try? inPipe.fileHandleForWriting.close() }
    feeder.start()
    let errorReader = ErrorCollector(err.fileHandleForReading)
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return ToolRun(status: process.terminationStatus, stdout: stdout, stderr: errorReader.wait())
}

private final class ErrorCollector: @unchecked Sendable {
    private var data = Data()
    private let done = DispatchSemaphore(value: 0)

    init(_ handle: FileHandle) {
        Thread { [self] in
            data = handle.readDataToEndOfFile()
            done.signal()
        }.start()
    }

    func wait() -> String {
        done.wait()
        return String(decoding: data, as: UTF8.self)
    }
}

private let rsvgConvert = "/usr/bin/rsvg-convert"
private let xmllint = "/usr/bin/xmllint"

/// Fails loudly when a tool the tests need is missing (CI installs it).
private func requireTool(_ path: String, package: String) throws {
    try #require(FileManager.default.isExecutableFile(atPath: path),
                 "\(path) is missing: install Debian's \(package) (.ci/run does); these tests do not skip")
}

/// xmllint's verdict on `text` as XML: nil when well-formed, else its diagnostics.
private func xmlProblems(_ text: String) throws -> String? {
    try requireTool(xmllint, package: "libxml2-utils")
    let run = try runTool(xmllint, ["--noout", "-"], input: Data(text.utf8))
    return run.status == 0 && run.stderr.isEmpty ? nil : "status \(run.status): \(run.stderr)"
}

/// The PNG rsvg-convert renders from `svg`.
private func render(_ svg: String) throws -> [UInt8] {
    try requireTool(rsvgConvert, package: "librsvg2-bin")
    let run = try runTool(rsvgConvert, ["--format", "png"], input: Data(svg.utf8))
    try #require(run.status == 0, "rsvg-convert failed: \(run.stderr)")
    return [UInt8](run.stdout)
}

// MARK: - Reading a PNG

/// A decoded 8-bit RGB or RGBA PNG, as rsvg-convert writes them.
struct DecodedPNG {
    var width: Int
    var height: Int
    /// Red, green, blue (alpha dropped) for each pixel, row by row.
    var pixels: [UInt8]

    func colour(x: Int, y: Int) -> [UInt8] {
        let start = (y * width + x) * 3
        return Array(pixels[start..<start + 3])
    }

    /// The width and height in the IHDR chunk, which must come first.
    static func size(of png: [UInt8]) -> (width: Int, height: Int)? {
        guard png.count > 24, png.prefix(8) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A],
              png[12..<16] == [0x49, 0x48, 0x44, 0x52] else { return nil }
        return (Int(bigEndian(png, at: 16)), Int(bigEndian(png, at: 20)))
    }

    private static func bigEndian(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        bytes[offset..<offset + 4].reduce(0) { $0 << 8 | UInt32($1) }
    }

    private typealias Uncompress = @convention(c) (UnsafeMutablePointer<UInt8>?, UnsafeMutablePointer<UInt>?,
                                                   UnsafePointer<UInt8>?, UInt) -> Int32

    init(_ png: [UInt8]) throws {
        let (width, height) = try #require(Self.size(of: png), "not a PNG with an IHDR first")
        let bitDepth = png[24], colourType = png[25], interlace = png[28]
        try #require(bitDepth == 8 && (colourType == 2 || colourType == 6) && interlace == 0,
                     "a PNG this reader does not decode: depth \(bitDepth), colour type \(colourType), interlace \(interlace)")
        let channels = colourType == 6 ? 4 : 3
        var compressed: [UInt8] = []
        var offset = 8
        while offset + 8 <= png.count {
            let length = Int(Self.bigEndian(png, at: offset))
            let type = String(decoding: png[offset + 4..<offset + 8], as: UTF8.self)
            if type == "IDAT" { compressed += png[offset + 8..<offset + 8 + length] }
            offset += 12 + length
        }
        let stride = width * channels
        var raw = [UInt8](repeating: 0, count: height * (stride + 1))
        let zlib = try #require(dlopen("libz.so.1", RTLD_NOW), "libz.so.1 is missing (rsvg-convert needs it too)")
        defer { dlclose(zlib) }
        let symbol = try #require(dlsym(zlib, "uncompress"), "libz.so.1 has no uncompress")
        let uncompress = unsafeBitCast(symbol, to: Uncompress.self)
        var rawLength = UInt(raw.count)
        let status = raw.withUnsafeMutableBufferPointer { target in
            compressed.withUnsafeBufferPointer { source in
                uncompress(target.baseAddress, &rawLength, source.baseAddress, UInt(source.count))
            }
        }
        try #require(status == 0 && rawLength == UInt(raw.count), "zlib: status \(status), \(rawLength) of \(raw.count) bytes")

        // Undo the per-row filters (PNG specification, section 9).
        var image = [UInt8](repeating: 0, count: height * stride)
        for row in 0..<height {
            let filter = raw[row * (stride + 1)]
            for index in 0..<stride {
                let value = raw[row * (stride + 1) + 1 + index]
                let left = index >= channels ? Int(image[row * stride + index - channels]) : 0
                let up = row > 0 ? Int(image[(row - 1) * stride + index]) : 0
                let upLeft = row > 0 && index >= channels ? Int(image[(row - 1) * stride + index - channels]) : 0
                let predictor: Int
                switch filter {
                case 0: predictor = 0
                case 1: predictor = left
                case 2: predictor = up
                case 3: predictor = (left + up) / 2
                case 4:
                    let estimate = left + up - upLeft
                    let (a, b, c) = (abs(estimate - left), abs(estimate - up), abs(estimate - upLeft))
                    predictor = a <= b && a <= c ? left : b <= c ? up : upLeft
                default:
                    Issue.record("unknown PNG filter \(filter) in row \(row)")
                    predictor = 0
                }
                image[row * stride + index] = UInt8(truncatingIfNeeded: Int(value) + predictor)
            }
        }
        self.width = width
        self.height = height
        pixels = []
        pixels.reserveCapacity(width * height * 3)
        for pixel in 0..<(width * height) { pixels += image[pixel * channels..<pixel * channels + 3] }
    }
}

// MARK: - Reading the SVG back

/// The parts of the heat map the tests look at, found by structure: cells
/// are the `<rect>`s with a `<title>`, row labels the `<text>`s with a
/// title in the group whose anchor is `end`, column labels those after it.
private struct ReadSVG {
    struct Cell {
        var x: Int, y: Int, width: Int, height: Int
        var fill: String
        var title: String
    }

    var width: Int
    var height: Int
    var cells: [Cell] = []
    var rowLabels: [String] = []
    var columnLabels: [String] = []
    var texts: [String] = []

    init(_ svg: String) throws {
        let document = try FoundationXML.XMLDocument(data: Data(svg.utf8))
        let root = try #require(document.rootElement())
        #expect(root.name == "svg")
        #expect(root.uri == "http://www.w3.org/2000/svg")
        width = Int(Self.attribute(root, "width") ?? "") ?? -1
        height = Int(Self.attribute(root, "height") ?? "") ?? -1
        var labelGroups: [FoundationXML.XMLElement] = []
        for child in root.children ?? [] {
            guard let element = child as? FoundationXML.XMLElement else { continue }
            if element.name == "rect", let title = element.elements(forName: "title").first {
                cells.append(Cell(x: Self.number(element, "x"), y: Self.number(element, "y"),
                                  width: Self.number(element, "width"), height: Self.number(element, "height"),
                                  fill: Self.attribute(element, "fill") ?? "", title: title.stringValue ?? ""))
            }
            if element.name == "text" { texts.append(element.stringValue ?? "") }
            if element.name == "g", element.elements(forName: "text").contains(where: { !$0.elements(forName: "title").isEmpty }) {
                labelGroups.append(element)
            }
        }
        // The text of a label without its tooltip.
        func label(_ text: FoundationXML.XMLElement) -> String {
            (text.children ?? []).filter { $0.kind == .text }.map { $0.stringValue ?? "" }.joined()
        }
        try #require(labelGroups.count == 2, "two groups of labels: rows, then columns")
        rowLabels = labelGroups[0].elements(forName: "text").map(label)
        columnLabels = labelGroups[1].elements(forName: "text").map(label)
    }

    private static func number(_ element: FoundationXML.XMLElement, _ name: String) -> Int {
        Int(attribute(element, name) ?? "") ?? -1
    }

    /// FoundationXML's `attribute(forName:)` finds nothing on an element in a
    /// default namespace (swift-corelibs-foundation), so the attributes are searched.
    private static func attribute(_ element: FoundationXML.XMLElement, _ name: String) -> String? {
        element.attributes?.first { $0.name == name }?.stringValue
    }
}

// MARK: - Fleets

/// The matrix of the hosts in `paths` (files), with the groups computed here.
private func fixtureMatrix(_ paths: [String]) throws -> (matrix: MigrationMatrix, groups: [ExpectedGroup], x86: CPUArchitecture) {
    let map = try CPUMap.builtIn(release: "12.9")
    let hosts = try map.readHosts(paths)
    let x86 = try map.x86Architecture(for: hosts)
    let groups = expectedGroups(hosts.map { ($0.definition.path, $0.features, $0.vendor?.name, $0.model?.name) })
    return (x86.migrationMatrix(of: hosts), groups, x86)
}

/// A fleet of exactly 50 groups: the generated fleet of ClusterTests, cut
/// before the host that would start the 51st group, written and read back.
private struct FiftyGroupFleet {
    let folder: String
    let matrix: MigrationMatrix
    let groups: [ExpectedGroup]
    let x86: CPUArchitecture

    init() throws {
        let map = try CPUMap.builtIn(release: "12.9")
        let x86 = try #require(map.x86)
        let generated = try Fleet.generate(x86, count: 200)
        var kept: [FleetHost] = []
        var keys: [(FeatureSet, String)] = []
        for host in generated {
            let isNew = !keys.contains { $0.0 == host.features && $0.1 == host.vendor }
            if isNew, keys.count == 50 { break }
            if isNew { keys.append((host.features, host.vendor)) }
            kept.append(host)
        }
        try #require(keys.count == 50, "the generator gave only \(keys.count) distinct CPUs")
        let folder = makeScratchDirectory()
        self.folder = folder
        Fleet.write(kept, to: folder)
        let hosts = try map.readHosts([folder])
        self.x86 = try map.x86Architecture(for: hosts)
        matrix = self.x86.migrationMatrix(of: hosts)
        groups = expectedGroups(kept.map { (folder + "/" + $0.file, $0.features, $0.vendor, $0.model) })
    }

    func remove() { removeTree(folder) }
}

// MARK: - Checks shared by the fleets

/// Every cell of the SVG against the groups: position in the grid, fill
/// and tooltip; the row and column labels; and the PNG rsvg-convert draws
/// from it, pixel by pixel at each cell.
private func checkHeatMap(_ svg: String, groups: [ExpectedGroup], x86: CPUArchitecture) throws {
    #expect(try xmlProblems(svg) == nil)
    let read = try ReadSVG(svg)
    let n = groups.count
    try #require(read.cells.count == n * n, "a cell per ordered pair: \(read.cells.count) for \(n) groups")
    #expect(read.rowLabels.count == n)
    #expect(read.columnLabels == (1...n).map { "G\($0)" })

    let pitch = read.cells.count > 1 ? read.cells[1].x - read.cells[0].x : 40
    let left = read.cells[0].x, top = read.cells[0].y
    for (index, cell) in read.cells.enumerated() {
        let (i, j) = (index / n, index % n)
        #expect(cell.x == left + j * pitch && cell.y == top + i * pitch, "cell \(i),\(j) out of the grid")
        let missing = x86.names(of: groups[i].features.subtracting(groups[j].features))
        #expect(cell.fill == expectedFill(missing: missing.count, same: i == j), "G\(i + 1) → G\(j + 1): \(missing.count) missing")
        if i == j {
            #expect(cell.title == "G\(i + 1): the same group")
        } else if missing.isEmpty {
            #expect(cell.title == "G\(i + 1) → G\(j + 1): ok, host-model guests can migrate")
        } else {
            #expect(cell.title == "G\(i + 1) → G\(j + 1): \(missing.count) feature\(missing.count == 1 ? "" : "s") missing: "
                + missing.joined(separator: ", "))
        }
    }
    for (index, label) in read.rowLabels.enumerated() {
        let group = groups[index]
        let level = x86.level(of: group.features)?.description ?? "no x86-64 level"
        #expect(label == "G\(index + 1) \(group.model ?? "no model"), \(level), \(group.hosts.count) host\(group.hosts.count == 1 ? "" : "s")")
    }

    let png = try render(svg)
    let size = try #require(DecodedPNG.size(of: png))
    #expect(size.width == read.width && size.height == read.height, "the PNG is drawn at the SVG's size")
    let image = try DecodedPNG(png)
    // Two pixels in from a cell's corner: inside the cell, clear of its count.
    for cell in read.cells {
        #expect(image.colour(x: cell.x + 2, y: cell.y + 2) == rgb(cell.fill), "the PNG at (\(cell.x), \(cell.y)) is not \(cell.fill)")
    }
    #expect(image.colour(x: 1, y: 1) == [255, 255, 255], "white background")
}

/// The DOT of `matrix` read by ``ReadDOT``: its nodes and labels, and its edges
/// against the transitive reduction computed here; reachability along the
/// edges must be exactly "can migrate".
///
/// - Returns: The edges as group numbers.
private func checkDOT(_ matrix: MigrationMatrix, groups: [ExpectedGroup], x86: CPUArchitecture) throws -> [(Int, Int)] {
    let read = try ReadDOT(matrix.dot)
    let n = groups.count
    #expect(read.nodeOrder == (1...n).map { "G\($0)" })
    for (index, group) in groups.enumerated() {
        let level = x86.level(of: group.features)?.description ?? "no x86-64 level"
        #expect(read.nodes["G\(index + 1)"]?["label"]
            == "G\(index + 1)\\n\(group.model ?? "no model")\\n\(level), \(group.hosts.count) host\(group.hosts.count == 1 ? "" : "s")")
    }
    func fits(_ i: Int, _ j: Int) -> Bool { groups[i].features.isSubset(of: groups[j].features) }
    func strictlyBelow(_ i: Int, _ j: Int) -> Bool { fits(i, j) && groups[i].features != groups[j].features }
    var expected: Set<String> = []
    for i in 0..<n {
        for j in 0..<n where i != j && fits(i, j) {
            if !(0..<n).contains(where: { strictlyBelow(i, $0) && strictlyBelow($0, j) }) { expected.insert("G\(i + 1)>G\(j + 1)") }
        }
    }
    let drawn = Set(read.edges.map { "\($0.0)>\($0.1)" })
    #expect(drawn.count == read.edges.count, "no edge twice")
    #expect(drawn == expected)
    let numbered = try read.edges.map { (try #require(Int($0.0.dropFirst())), try #require(Int($0.1.dropFirst()))) }
    var reach = [[Bool]](repeating: [Bool](repeating: false, count: n), count: n)
    for (from, to) in numbered { reach[from - 1][to - 1] = true }
    for k in 0..<n { for i in 0..<n where reach[i][k] { for j in 0..<n where reach[k][j] { reach[i][j] = true } } }
    for i in 0..<n { for j in 0..<n where i != j { #expect(reach[i][j] == fits(i, j), "G\(i + 1) → G\(j + 1)") } }
    return numbered
}

/// A DOT file as this checker reads it: statements inside one digraph.
private struct ReadDOT {
    var nodes: [String: [String: String]] = [:]
    var nodeOrder: [String] = []
    var edges: [(String, String)] = []

    /// Reads a quoted string starting at `index` (at the opening quote), keeping escapes as written.
    private static func quoted(_ characters: [Character], _ index: inout Int) throws -> String {
        var value = ""
        index += 1
        while index < characters.count, characters[index] != "\"" {
            let character = characters[index]
            try #require(character != "\n", "a line break inside a DOT string")
            if character == "\\" {
                try #require(index + 1 < characters.count && ["\\", "\"", "n"].contains(characters[index + 1]),
                             "an escape Graphviz would read as something else: \\\(index + 1 < characters.count ? characters[index + 1] : " ")")
                value.append(character)
                index += 1
            }
            value.append(characters[index])
            index += 1
        }
        try #require(index < characters.count, "an unterminated DOT string")
        index += 1
        return value
    }

    /// Tokens: quoted strings (marked by a leading quote), identifiers, `->`, and single punctuation.
    private static func tokens(_ text: String) throws -> [String] {
        let characters = Array(text)
        var tokens: [String] = []
        var index = 0
        while index < characters.count {
            let character = characters[index]
            if character.isWhitespace { index += 1 }
            else if character == "/", index + 1 < characters.count, characters[index + 1] == "/" {
                while index < characters.count, characters[index] != "\n" { index += 1 }
            } else if character == "\"" { tokens.append("\"" + (try quoted(characters, &index))) }
            else if character == "-", index + 1 < characters.count, characters[index + 1] == ">" {
                tokens.append("->")
                index += 2
            } else if "{}[];=,".contains(character) {
                tokens.append(String(character))
                index += 1
            } else if character.isLetter || character.isNumber || character == "_" {
                var word = ""
                while index < characters.count, characters[index].isLetter || characters[index].isNumber || characters[index] == "_" {
                    word.append(characters[index])
                    index += 1
                }
                tokens.append(word)
            } else {
                throw DOTError(message: "unexpected character \(character)")
            }
        }
        return tokens
    }

    struct DOTError: Error { var message: String }

    init(_ text: String) throws {
        var tokens = try Self.tokens(text)[...]
        func take() throws -> String {
            let next = tokens.popFirst()
            return try #require(next, "the DOT ends too early")
        }
        func expect(_ token: String) throws {
            let next = try take()
            try #require(next == token, "expected \(token), found \(next)")
        }
        func attributes() throws -> [String: String] {
            var result: [String: String] = [:]
            try expect("[")
            while tokens.first != "]" {
                let name = try take()
                try expect("=")
                let value = try take()
                result[name] = value.hasPrefix("\"") ? String(value.dropFirst()) : value
                if tokens.first == "," { _ = try take() }
            }
            try expect("]")
            return result
        }
        try expect("digraph")
        #expect(try take() == "\"migration")
        try expect("{")
        while tokens.first != "}" {
            let first = try take()
            if first == "graph" || first == "node" {
                _ = try attributes()
            } else {
                try #require(first.hasPrefix("\""), "a statement must start with a quoted ID: \(first)")
                let id = String(first.dropFirst())
                if tokens.first == "->" {
                    _ = try take()
                    let to = try take()
                    try #require(to.hasPrefix("\""), "an edge's head must be a quoted ID")
                    edges.append((id, String(to.dropFirst())))
                } else {
                    try #require(nodes[id] == nil, "node \(id) declared twice")
                    nodes[id] = try attributes()
                    nodeOrder.append(id)
                }
            }
            try expect(";")
        }
        try expect("}")
        try #require(tokens.isEmpty, "text after the graph")
        for (from, to) in edges { #expect(nodes[from] != nil && nodes[to] != nil, "an edge \(from) -> \(to) to an undeclared node") }
    }
}

// MARK: - Tests

@Suite(.timeLimit(.minutes(5))) struct MatrixPictureTests {
    @Test func theFixturesDrawAsTwoByTwoHeatMap() throws {
        let (matrix, groups, x86) = try fixtureMatrix([TestPaths.fixture("kvm02.xml"), TestPaths.fixture("kvm03.xml")])
        try #require(groups.count == 2)
        let svg = matrix.svg
        #expect(svg.hasPrefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg "))
        #expect(svg.hasSuffix("</svg>\n"))
        try checkHeatMap(svg, groups: groups, x86: x86)
        let read = try ReadSVG(svg)
        // Written out: kvm02 (Haswell, nested VMX) lacks nothing of kvm03; kvm03 lacks 9 of its features.
        #expect(read.rowLabels == ["G1 Haswell-noTSX-IBRS, x86-64-v3, 1 host", "G2 IvyBridge-IBRS, x86-64-v2, 1 host"])
        #expect(read.cells.map(\.fill) == ["#d9d9d9", "#f46d43", "#1a9850", "#d9d9d9"])
        #expect(read.cells[1].title == "G1 → G2: 9 features missing: vmx, fma, movbe, bmi1, avx2, bmi2, invpcid, abm, pdpe1gb")
        #expect(read.texts.contains("2 hosts in 2 groups; 1 of 2 ordered pairs of groups blocked"))
        // Counts are written where they fit: 40-pixel cells hold them.
        #expect(svg.contains(">9</text>") && svg.contains(">ok</text>"))
        #expect(matrix.svg == svg, "the same matrix gives the same picture")
    }

    @Test func aGeneratedFiftyGroupFleetDrawsEveryCellInItsColour() throws {
        let fleet = try FiftyGroupFleet()
        defer { fleet.remove() }
        try #require(fleet.matrix.groups.count == 50)
        #expect(fleet.matrix.groups.map(\.hosts) == fleet.groups.map(\.hosts))
        try checkHeatMap(fleet.matrix.svg, groups: fleet.groups, x86: fleet.x86)
        let read = try ReadSVG(fleet.matrix.svg)
        // 1,400 pixels shared by 50 rows: 28-pixel cells, still wide enough for a two-digit count.
        #expect(read.cells[0].width == 27)
        #expect(read.width < 2_000)
    }

    @Test func theDOTGraphOfTheFiftyGroupFleetIsWhoCanMigrate() throws {
        let fleet = try FiftyGroupFleet()
        defer { fleet.remove() }
        _ = try checkDOT(fleet.matrix, groups: fleet.groups, x86: fleet.x86)
    }

    @Test func theDOTGraphLeavesOutTheEdgesTwoOthersImply() throws {
        // Skylake-Client hosts lacking each subset of five features: 32 groups ordered as the
        // subsets are, so the graph left is the five-dimensional cube: 32 × 5 / 2 = 80 edges, each
        // from a group to one lacking one feature fewer, of the 3⁵ − 32 = 211 pairs that can migrate.
        let map = try CPUMap.builtIn(release: "12.9")
        let pool = ["avx2", "bmi1", "bmi2", "fma", "movbe"]
        var hosts: [CPU] = []
        for subset in 0..<32 {
            let disables = pool.indices.filter { subset >> $0 & 1 == 1 }.map { "<feature policy='disable' name='\(pool[$0])'/>" }.joined()
            let xml = "<cpu><arch>x86_64</arch><model>Skylake-Client</model><vendor>Intel</vendor>\(disables)</cpu>"
            hosts.append(try map.resolve(try #require(try CPUDefinitionReader.read(Array(xml.utf8), path: "host\(subset).xml").first)))
        }
        let x86 = try map.x86Architecture(for: hosts)
        let matrix = x86.migrationMatrix(of: hosts)
        let groups = expectedGroups(hosts.map { ($0.definition.path, $0.features, $0.vendor?.name, $0.model?.name) })
        try #require(groups.count == 32)
        let edges = try checkDOT(matrix, groups: groups, x86: x86)
        #expect(edges.count == 80)
        for (from, to) in edges {
            // G(s+1) lacks subset s: an edge goes to the subset with exactly one bit less.
            let (lacksFrom, lacksTo) = (from - 1, to - 1)
            #expect(lacksTo & lacksFrom == lacksTo && (lacksFrom ^ lacksTo).nonzeroBitCount == 1, "G\(from) -> G\(to)")
        }
    }

    @Test func theHTMLPageIsSelfContainedAndWellFormed() throws {
        let (matrix, groups, _) = try fixtureMatrix([TestPaths.fixture("kvm02.xml"), TestPaths.fixture("kvm03.xml")])
        let html = matrix.html()
        #expect(try xmlProblems(html) == nil, "the page is well-formed XML too")
        try requireTool(xmllint, package: "libxml2-utils")
        let asHTML = try runTool(xmllint, ["--html", "--noout", "-"], input: Data(html.utf8))
        #expect(asHTML.status == 0)
        // libxml2's HTML parser knows HTML 4 only, so it names the inline SVG's elements; nothing else.
        let complaints = asHTML.stderr.split(separator: "\n").filter { $0.contains("error") }
        #expect(complaints.allSatisfy { line in ["svg", "rect", "text", "g", "title"].contains { line.hasSuffix("Tag \($0) invalid") } },
                "\(complaints)")
        for outside in ["src=", "href=", "<script", "url(", "@import", "<link", "<img"] { #expect(!html.contains(outside), "\(outside)") }
        let document = try FoundationXML.XMLDocument(data: Data(html.utf8))
        let tables = try document.nodes(forXPath: "//*[local-name()='table']")
        try #require(tables.count == 2, "the groups and the blocked pairs")
        let groupRows = try tables[0].nodes(forXPath: "*[local-name()='tr']")
        #expect(groupRows.count == 1 + groups.count)
        let pairRows = try tables[1].nodes(forXPath: "*[local-name()='tr']").map { $0.stringValue ?? "" }
        #expect(pairRows.dropFirst() == ["G1G29vmx, fma, movbe, bmi1, avx2, bmi2, invpcid, abm, pdpe1gb"])
        #expect(try document.nodes(forXPath: "//*[local-name()='svg']").count == 1)
        #expect(html.contains("<code>IvyBridge-IBRS, vendor Intel, fallback allow, level x86-64-v2</code>"))
    }

    @Test func textFromTheInputIsEscapedInEveryFormat() throws {
        let folder = makeScratchDirectory()
        defer { removeTree(folder) }
        let hostile = folder + "/a<b>&\"c'\u{1}\\N\u{2028}.xml"
        let text = try String(contentsOfFile: TestPaths.fixture("kvm03.xml"), encoding: .utf8)
        write(text, to: hostile)
        // A name longer than a diagnostic shows (200 characters a word) is shown whole.
        let long = folder + "/" + String(repeating: "h", count: 240) + ".xml"
        write(try String(contentsOfFile: TestPaths.fixture("kvm02.xml"), encoding: .utf8), to: long)
        let (matrix, _, _) = try fixtureMatrix([TestPaths.fixture("kvm02.xml"), hostile, long])
        #expect(matrix.svg.contains(long + "</title>"))
        #expect(matrix.dot.contains(long + "\"];"))
        #expect(try xmlProblems(matrix.svg) == nil)
        #expect(try xmlProblems(matrix.html()) == nil)
        #expect(matrix.svg.contains("a&lt;b&gt;&amp;&quot;c&#39;\\u{1}\\N\\u{2028}.xml"))
        let html = try FoundationXML.XMLDocument(data: Data(matrix.html().utf8))
        #expect(try html.nodes(forXPath: "//*[local-name()='td']").contains { $0.stringValue == "1: \(folder)/a<b>&\"c'\\u{1}\\N\\u{2028}.xml" })
        let dot = try ReadDOT(matrix.dot)
        #expect(dot.nodes["G2"]?["tooltip"]?.hasSuffix("a<b>&\\\"c'\\\\u{1}\\\\N\\\\u{2028}.xml") == true, "\(dot.nodes["G2"] ?? [:])")
    }

    @Test func beyondTheLimitTheLargestGroupsAreDrawn() throws {
        // Skylake-Client hosts each lacking three of twelve features: 220 distinct CPUs; the
        // groups numbered 3, 6, 9, … get a second host, so 73 groups have two hosts.
        let map = try CPUMap.builtIn(release: "12.9")
        let pool = ["avx2", "bmi1", "bmi2", "fma", "movbe", "rdrand", "rdseed", "adx", "smap", "smep", "xsavec", "3dnowprefetch"]
        var combinations: [[String]] = []
        for a in 0..<12 { for b in (a + 1)..<12 { for c in (b + 1)..<12 { combinations.append([pool[a], pool[b], pool[c]]) } } }
        var hosts: [CPU] = []
        for (index, lacking) in combinations.enumerated() {
            let disables = lacking.map { "<feature policy='disable' name='\($0)'/>" }.joined()
            let xml = "<cpu><arch>x86_64</arch><model>Skylake-Client</model><vendor>Intel</vendor>\(disables)</cpu>"
            let definition = try #require(try CPUDefinitionReader.read(Array(xml.utf8), path: "host\(index).xml").first)
            let cpu = try map.resolve(definition)
            hosts.append(cpu)
            if (index + 1) % 3 == 0 { hosts.append(try map.resolve(try #require(try CPUDefinitionReader.read(Array(xml.utf8), path: "twin\(index).xml").first))) }
        }
        let x86 = try map.x86Architecture(for: hosts)
        let matrix = x86.migrationMatrix(of: hosts)
        try #require(matrix.groups.count == 220)
        // The 73 two-host groups (G3, G6, … G219), then the first 127 one-host groups.
        let twoHost = (1...220).filter { $0 % 3 == 0 }
        let oneHost = (1...220).filter { $0 % 3 != 0 }.prefix(200 - twoHost.count)
        let drawn = (twoHost + oneHost).sorted().map { "G\($0)" }

        let svg = matrix.svg
        #expect(try xmlProblems(svg) == nil)
        let read = try ReadSVG(svg)
        #expect(read.cells.count == 200 * 200)
        #expect(read.columnLabels == drawn)
        #expect(read.cells[0].width == 8, "8-pixel cells at 200 groups")
        #expect(read.width < 2_000 && read.height < 2_000, "\(read.width) × \(read.height)")
        #expect(read.texts.contains("drawn: the 200 groups with the most hosts (273 of 293 hosts); 20 smaller groups left out "
                                    + "(every group: --format text or json)"))
        let blocked = matrix.summary.blockingFeatures.prefix(5).map { "\($0.feature) (\(grouped($0.pairs)))" }.joined(separator: ", ")
        #expect(read.texts.contains("features missing in the most pairs of all groups: " + blocked))
        let png = try render(svg)
        #expect(DecodedPNG.size(of: png).map { [$0.width, $0.height] } == [read.width, read.height])

        let dot = try ReadDOT(matrix.dot)
        #expect(dot.nodeOrder == drawn)
        let html = matrix.html()
        #expect(try xmlProblems(html) == nil)
        #expect(html.contains("beyond 16 groups this page has the summary"))
    }

    @Test func aMatrixReadFromJSONDrawsItsGroupsWithoutPairs() throws {
        let (matrix, _, _) = try fixtureMatrix([TestPaths.fixture("kvm02.xml"), TestPaths.fixture("kvm03.xml")])
        let decoded = try JSONDecoder().decode(MigrationMatrix.self, from: JSONEncoder().encode(matrix))
        #expect(!decoded.hasFeatures)
        let read = try ReadSVG(decoded.svg)
        #expect(read.cells.map(\.fill) == ["#d9d9d9", "#ffffff", "#ffffff", "#d9d9d9"])
        #expect(read.cells[1].title == "G1 → G2: not known (a matrix read from JSON has no features)")
        #expect(try ReadDOT(decoded.dot).edges.isEmpty)
        #expect(try xmlProblems(decoded.html()) == nil)
    }
}
