import Foundation
import FoundationXML
import Testing

// End-to-end tests of `matrix --format svg|html|dot`: the README's example
// (the two fixture hosts and Fixtures/fleet), rendered with rsvg-convert
// (Debian's librsvg2-bin, which CI installs: a missing one fails, never
// skips), the options that go with the pictures and those that do not, exit
// statuses, and bad input. The expectations come from how the hosts were
// made (Fixtures/fleet/README.md): hsw04 is kvm02's CPU, hsw03 is it without
// vmx, kvm03 (Ivy Bridge) lacks nine of kvm02's features.

private let readmeHosts = ["Fixtures/kvm02.xml", "Fixtures/kvm03.xml", "Fixtures/fleet"]

/// The text of the picture's cells' tooltips, row by row, found with FoundationXML.
private func cellTitles(_ svg: String) throws -> [String] {
    let document = try FoundationXML.XMLDocument(data: Data(svg.utf8))
    return try document.nodes(forXPath: "/*[local-name()='svg']/*[local-name()='rect']/*[local-name()='title']").map { $0.stringValue ?? "" }
}

/// The PNG's width and height from its IHDR chunk.
private func pngSize(_ png: Data) -> [Int]? {
    let bytes = [UInt8](png)
    guard bytes.count > 24, bytes[12..<16] == [0x49, 0x48, 0x44, 0x52] else { return nil }
    return [16, 20].map { offset in bytes[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) } }
}

private func svgSize(_ svg: String) throws -> [Int] {
    let document = try FoundationXML.XMLDocument(data: Data(svg.utf8))
    let root = try #require(document.rootElement())
    return ["width", "height"].map { name in Int(root.attributes?.first { $0.name == name }?.stringValue ?? "") ?? -1 }
}

@Suite(.timeLimit(.minutes(3))) struct MatrixPictureCommandTests {
    @Test func theREADMEExampleDrawsFiveGroups() throws {
        let result = try CLI.run(["matrix", "--format", "svg"] + readmeHosts)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.isEmpty)
        let titles = try cellTitles(result.stdout)
        try #require(titles.count == 25, "5 groups: kvm02 and hsw04, kvm03, clx06, hsw03, sky05")
        #expect(titles[0] == "G1: the same group")
        #expect(titles[1].hasPrefix("G1 → G2: 9 features missing: vmx, "))
        #expect(titles[3] == "G1 → G4: 1 feature missing: vmx")
        #expect(titles[15] == "G4 → G1: ok, host-model guests can migrate")
        #expect(titles[5] == "G2 → G1: ok, host-model guests can migrate")
        #expect(result.stdout.contains(">G1 Haswell-noTSX-IBRS, x86-64-v3, 2 hosts</text>"))
        #expect(result.stdout.contains("<title>G1: Intel, 76 features; hosts: Fixtures/kvm02.xml, Fixtures/fleet/hsw04.xml</title>"))

        // The README's picture is this SVG rendered: the same size (the pixels may differ between librsvg releases).
        let rsvg = "/usr/bin/rsvg-convert"
        try #require(FileManager.default.isExecutableFile(atPath: rsvg), "\(rsvg) is missing: install Debian's librsvg2-bin (.ci/run does)")
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("cpucompat-picture-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try result.stdout.write(toFile: scratch + "/matrix.svg", atomically: false, encoding: .utf8)
        let rendered = try CLI.runProgram(rsvg, [scratch + "/matrix.svg", "-o", scratch + "/matrix.png"])
        #expect(rendered.status == 0, "\(rendered.stderr)")
        let png = try Data(contentsOf: URL(fileURLWithPath: scratch + "/matrix.png"))
        let committed = try Data(contentsOf: URL(fileURLWithPath: CLI.package + "/Documentation/matrix-example.png"))
        #expect(pngSize(png) == (try svgSize(result.stdout)))
        #expect(pngSize(committed) == pngSize(png), "Documentation/matrix-example.png is the README command's picture")
        #expect(committed.count < 150_000)
        let readme = try String(contentsOfFile: CLI.package + "/README.md", encoding: .utf8)
        #expect(readme.contains("cpucompat matrix --format svg " + readmeHosts.joined(separator: " ") + " > matrix.svg"))
    }

    @Test func htmlAndDOTDescribeTheSameGroups() throws {
        let html = try CLI.run(["matrix", "--format", "html"] + readmeHosts)
        #expect(html.status == 0, "\(html.stderr)")
        #expect(html.stdout.hasPrefix("<!DOCTYPE html>\n"))
        for outside in ["src=", "href=", "<script", "url(", "<link", "<img"] { #expect(!html.stdout.contains(outside), "\(outside)") }
        let document = try FoundationXML.XMLDocument(data: Data(html.stdout.utf8))
        let groupCells = try document.nodes(forXPath: "//*[local-name()='table'][1]/*[local-name()='tr']/*[local-name()='td'][1]")
        #expect(groupCells.map { $0.stringValue ?? "" } == ["G1", "G2", "G3", "G4", "G5"])
        let blocked = try document.nodes(forXPath: "//*[local-name()='table'][2]/*[local-name()='tr'][*[local-name()='td']]")
        #expect(blocked.contains { $0.stringValue == "G1G41vmx" })
        #expect(try cellTitles(String(decoding: try document.nodes(forXPath: "//*[local-name()='svg']").first?.xmlString.utf8 ?? "".utf8,
                                      as: UTF8.self)).count == 25)

        let dot = try CLI.run(["matrix", "--format", "dot"] + readmeHosts)
        #expect(dot.status == 0, "\(dot.stderr)")
        #expect(dot.stdout.contains("digraph \"migration\" {\n"))
        #expect(dot.stdout.hasSuffix("}\n"))
        // hsw03 (G4) differs from kvm02 (G1) only by lacking vmx: nothing lies between them.
        #expect(dot.stdout.contains("  \"G4\" -> \"G1\";\n"))
        #expect(!dot.stdout.contains("  \"G1\" -> \"G4\";\n"))
        #expect(dot.stdout.contains("  \"G1\" [label=\"G1\\nHaswell-noTSX-IBRS\\nx86-64-v3, 2 hosts\""))
    }

    @Test(arguments: ["svg", "html", "dot"])
    func checkAnswersWithEveryPictureFormat(format: String) throws {
        let blocked = try CLI.run(["matrix", "--check", "--format", format, "Fixtures/kvm02.xml", "Fixtures/kvm03.xml"])
        #expect(blocked.status == 1, "kvm03 cannot take kvm02's guests: \(blocked.stderr)")
        #expect(blocked.stdout.hasSuffix(format == "svg" ? "</svg>\n" : format == "html" ? "</html>\n" : "}\n"), "the whole picture first")
        let alone = try CLI.run(["matrix", "--check", "--format", format, "Fixtures/kvm02.xml", "Fixtures/fleet/hsw04.xml"])
        #expect(alone.status == 0, "\(alone.stderr)")
    }

    @Test(arguments: [["matrix", "--format", "svg", "--pairs", "Fixtures/kvm02.xml"],
                      ["matrix", "--format", "dot", "--pairs", "Fixtures/kvm02.xml"],
                      ["matrix", "--format", "png", "Fixtures/kvm02.xml"]])
    func picturesRefuseWhatTheyCannotDo(arguments: [String]) throws {
        let result = try CLI.run(arguments)
        #expect(result.status == 64, "\(result.stderr)")
        #expect(result.stdout.isEmpty)
        if arguments.contains("--pairs") {
            #expect(result.stderr.hasPrefix("cpucompat: --pairs goes with --format text, json or html: the \(arguments[2]) picture has every pair it draws\n"))
        }
    }

    @Test func badInputGivesOneLineAndNoPicture() throws {
        let result = try CLI.run(["matrix", "--format", "svg", "Fixtures/kvm02.xml", "Fixtures/no-such-host.xml"])
        #expect(result.status == 2)
        #expect(result.stdout.isEmpty, "no partial picture")
        #expect(result.stderr.split(separator: "\n").count == 1)
        #expect(result.stderr.hasPrefix("cpucompat: Fixtures/no-such-host.xml: "))
    }

    @Test func htmlListsEveryBlockedPairBeyondSixteenGroupsOnlyWithPairs() throws {
        // Skylake-Client hosts each lacking a different pair of twelve features: 66 groups, each
        // lacking two features every other has, so all 66 × 65 ordered pairs are blocked.
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("cpucompat-picture-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let pool = ["avx2", "bmi1", "bmi2", "fma", "movbe", "rdrand", "rdseed", "adx", "smap", "smep", "xsavec", "3dnowprefetch"]
        var count = 0
        for i in pool.indices {
            for j in pool.indices where j > i {
                let disables = [pool[i], pool[j]].map { "<feature policy='disable' name='\($0)'/>" }.joined()
                try "<cpu><arch>x86_64</arch><model>Skylake-Client</model><vendor>Intel</vendor>\(disables)</cpu>\n"
                    .write(toFile: scratch + "/host\(count).xml", atomically: false, encoding: .utf8)
                count += 1
            }
        }
        let summary = try CLI.run(["matrix", "--format", "html", scratch])
        #expect(summary.status == 0, "\(summary.stderr)")
        #expect(summary.stdout.contains("4,290 of 4,290 ordered pairs of groups are blocked; beyond 16 groups this page has the summary"))
        let every = try CLI.run(["matrix", "--format", "html", "--pairs", scratch])
        #expect(every.status == 0, "\(every.stderr)")
        let document = try FoundationXML.XMLDocument(data: Data(every.stdout.utf8))
        let rows = try document.nodes(forXPath: "//*[local-name()='table'][2]/*[local-name()='tr'][*[local-name()='td']]")
        #expect(rows.count == 66 * 65)
        #expect(try cellTitles(String(decoding: try document.nodes(forXPath: "//*[local-name()='svg']").first?.xmlString.utf8 ?? "".utf8,
                                      as: UTF8.self)).count == 66 * 66)
    }

    @Test func outputWritesTheWholeResultOrNothing() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("cpucompat-picture-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let hosts = ["Fixtures/kvm02.xml", "Fixtures/kvm03.xml"]
        let printed = try CLI.run(["matrix", "--format", "svg"] + hosts)
        let file = scratch + "/matrix.svg"
        let written = try CLI.run(["matrix", "--format", "svg", "--check", "--output", file] + hosts)
        #expect(written.status == 1, "--check still answers: \(written.stderr)")
        #expect(written.stdout.isEmpty)
        #expect(try String(contentsOfFile: file, encoding: .utf8) == printed.stdout)

        // Bad input: the file keeps what it had.
        let failed = try CLI.run(["matrix", "--format", "dot", "--output", file, "Fixtures/no-such-host.xml"])
        #expect(failed.status == 2)
        #expect(try String(contentsOfFile: file, encoding: .utf8) == printed.stdout)

        // A symbolic link is refused unless --follow-symlinks, which then writes its target.
        let link = scratch + "/link.svg"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: file)
        let refused = try CLI.run(["matrix", "--format", "dot", "--output", link] + hosts)
        #expect(refused.status == 2)
        #expect(refused.stderr.hasPrefix("cpucompat: \(link): is a symbolic link"))
        let followed = try CLI.run(["matrix", "--format", "dot", "--output", link, "--follow-symlinks"] + hosts)
        #expect(followed.status == 0, "\(followed.stderr)")
        #expect(try String(contentsOfFile: file, encoding: .utf8).hasPrefix("// cpucompat matrix: "))
        #expect(try CLI.run(["matrix", "--follow-symlinks"] + hosts).status == 64)

        let dash = try CLI.run(["matrix", "--format", "svg", "--output", "-"] + hosts)
        #expect(dash.stdout == printed.stdout, "- is standard output")
    }
}
