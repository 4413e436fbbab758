import Foundation
import Testing
@testable import CPUCompat

// A fleet file (`cat` of thousands of hosts' XML, a megabyte or more) is read
// on its own path: into pages given back as they are parsed, in two halves on
// two threads, falling back to the whole file when a half fails. Each test
// checks that path against the plain one: every document read alone.

/// One host document of a generated fleet: what it is, and where it starts.
private struct FleetDocument {
    var text: String
    var model: String
    var features: [String]
}

private let models = ["IvyBridge-IBRS", "Haswell-noTSX-IBRS", "Broadwell-noTSX-IBRS", "Skylake-Server-IBRS", "Cascadelake-Server"]
private let pool = ["ds", "acpi", "ss", "ht", "tm", "pbe", "dtes64", "monitor", "ds_cpl", "vmx", "est", "tm2", "xtpr",
                    "pdcm", "osxsave", "arat", "md-clear", "stibp", "ssbd", "xsaveopt", "invtsc", "pdpe1gb", "abm"]

/// `count` host documents, varied by index, each ending in a line break.
/// `indent` is put before each child element: with the default only the
/// documents' roots start a line with `<`, so the file is cut between two
/// documents. `kind` 1 makes every other one a `virsh capabilities`.
private func fleet(_ count: Int, indent: String = "  ", kind: Int = 0) -> [FleetDocument] {
    (0..<count).map { index in
        let model = models[index % models.count]
        let features = pool.enumerated().filter { (index + $0.offset) % 7 != 0 }.map(\.element)
        var lines = ["<cpu>", "\(indent)<arch>x86_64</arch>", "\(indent)<model> \(model)\n\(indent)</model>", "\(indent)<vendor>Intel</vendor>"]
        lines += features.map { "\(indent)<feature name='\($0)'/>" }
        lines.append("</cpu>")
        var text = lines.joined(separator: "\n") + "\n"
        if kind == 1, index % 2 == 1 {
            // Every other host as `virsh capabilities` writes it.
            text = "<capabilities>\n \(indent)<host>\n \(text.replacingOccurrences(of: "\n", with: "\n "))</host>\n</capabilities>\n"
        }
        return FleetDocument(text: text, model: model, features: features)
    }
}

private func writeFleet(_ documents: [FleetDocument], in folder: String) -> String {
    let path = folder + "/fleet.xml"
    write(documents.map(\.text).joined(), to: path)
    return path
}

/// What reading each document alone gives, with its lines moved to where
/// the document stands in the file.
private func readAlone(_ documents: [FleetDocument], path: String) throws -> [CPUDefinition] {
    var expected: [CPUDefinition] = []
    var line = 0
    for document in documents {
        for var definition in try CPUDefinitionReader.read(Array(document.text.utf8), path: path) {
            definition.line += line
            for index in definition.features.indices { definition.features[index].line += line }
            expected.append(definition)
        }
        line += document.text.utf8.count { $0 == 0x0A }
    }
    return expected
}

@Suite struct FleetFileTests {
    @Test func aFleetFileReadsAsItsDocumentsOneByOne() throws {
        let folder = makeScratchDirectory()
        defer { removeTree(folder) }
        let documents = fleet(4_000, kind: 1)
        let path = writeFleet(documents, in: folder)
        let size = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        #expect(size >= ConcatenatedDocuments.halvesThreshold, "the file must take the fleet file path")

        let read = try CPUDefinitionReader.read(contentsOf: path)
        #expect(read.count == documents.count)
        #expect(read == (try readAlone(documents, path: path)))
        // The model's text is trimmed of the white space around it, line break included.
        #expect(read.map(\.model) == documents.map(\.model))
        #expect(read.map { $0.features.map(\.name) } == documents.map(\.features))
        // The same bytes read from memory (standard input's path) give the same definitions.
        #expect(try CPUDefinitionReader.read(Array(Data(contentsOf: URL(fileURLWithPath: path))), path: path) == read)
    }

    @Test func aCutInsideADocumentFallsBackToTheWholeFile() throws {
        // Without indentation every child element starts a line, and with the
        // documents joined on one line no root does: the cut before the first
        // start tag past the middle falls inside a document, both halves fail,
        // and the file is read again, whole.
        let folder = makeScratchDirectory()
        defer { removeTree(folder) }
        let documents = fleet(4_000, indent: "").map { document in
            var joined = document
            joined.text.removeLast()
            joined.text += " "
            return joined
        }
        let path = writeFleet(documents, in: folder)
        let read = try CPUDefinitionReader.read(contentsOf: path)
        #expect(read == (try readAlone(documents, path: path)))
    }

    @Test(arguments: [0.25, 0.75])
    func aMalformedFleetFileNamesTheLineOfItsFirstError(at fraction: Double) throws {
        let folder = makeScratchDirectory()
        defer { removeTree(folder) }
        var documents = fleet(4_000)
        let broken = Int(Double(documents.count) * fraction)
        documents[broken].text = documents[broken].text.replacingOccurrences(of: "</vendor>", with: "</vendr>")
        let path = writeFleet(documents, in: folder)
        let brokenLine = documents[..<broken].map { $0.text.utf8.count { $0 == 0x0A } }.reduce(0, +) + 5
        #expect {
            _ = try CPUDefinitionReader.read(contentsOf: path)
        } throws: { error in
            guard case let CPUCompatError.malformedXML(errorPath, line, message) = error else { return false }
            return errorPath == path && line == brokenLine && message.contains("vendor")
        }
    }

    @Test(arguments: ["UTF-8", "ISO-8859-1"])
    func oneDocumentOfMegabytesReadsAsFromMemory(encoding: String) throws {
        // One `virsh capabilities` made large by its guests: no second document,
        // so it is read whole by the first parse, which reads the file a piece
        // at a time (libxml2's static buffers misread such documents).
        let folder = makeScratchDirectory()
        defer { removeTree(folder) }
        let guest = "  <guest>\n    <os_type>hvm</os_type>\n    <arch name='x86_64'><wordsize>64</wordsize></arch>\n  </guest>\n"
        var text = "<?xml version='1.0' encoding='\(encoding)'?>\n<capabilities>\n  <host>\n    <cpu>\n      <arch>x86_64</arch>\n"
            + "      <model>Haswell-noTSX-IBRS</model>\n      <vendor>Intel</vendor>\n      <feature name='vmx'/>\n    </cpu>\n  </host>\n"
        text += String(repeating: guest, count: 16_000) + "<!-- caf\u{E9} -->\n</capabilities>\n"
        var bytes = Array(text.utf8)
        if encoding == "ISO-8859-1" { bytes = text.unicodeScalars.map { UInt8($0.value) } }
        #expect(bytes.count >= ConcatenatedDocuments.halvesThreshold)
        let path = folder + "/big-capabilities.xml"
        #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
        let read = try CPUDefinitionReader.read(contentsOf: path)
        #expect(read.map(\.model) == ["Haswell-noTSX-IBRS"])
        #expect(read.first?.line == 4)
        #expect(read.first?.features.map(\.name) == ["vmx"])
        #expect(try CPUDefinitionReader.read(bytes, path: path) == read)
    }

    @Test(arguments: [10, 4_000])
    func aDocTypeInALaterDocumentIsRefusedForWhatItIs(documents count: Int) throws {
        let folder = makeScratchDirectory()
        defer { removeTree(folder) }
        var documents = fleet(count)
        let later = count / 2
        documents[later].text = "<!DOCTYPE cpu>\n" + documents[later].text
        let path = writeFleet(documents, in: folder)
        let doctypeLine = documents[..<later].map { $0.text.utf8.count { $0 == 0x0A } }.reduce(0, +) + 1
        #expect {
            _ = try CPUDefinitionReader.read(contentsOf: path)
        } throws: { error in
            error as? CPUCompatError == .malformedXML(path: path, line: doctypeLine, message: XMLInput.refusedDoctype)
        }
    }

    @Test func aDeclarationOverTwoLinesKeepsTheLinesOfTheDocumentsAfterIt() throws {
        let definitions = try CPUDefinitionReader.read(Array("""
        <?xml version="1.0"
          encoding="UTF-8"?>
        <cpu><model>Haswell</model></cpu>
        <cpu>
          <model>Nehalem</model>
          <feature policy='disable' name='sse4.2'/>
        </cpu>
        """.utf8), path: "two.xml")
        #expect(definitions.map(\.line) == [3, 4])
        #expect(definitions.last?.features.map(\.line) == [6])
    }

    /// The messages of a concatenated file's errors name the file's elements, never the wrapper they are read in.
    @Test(arguments: [
        ("<cpu><model>Haswell</model></cpu>\n<cpu><model>Nehalem</model></cpu>\n</extra>\n", 3, "an end tag </extra> closes no element"),
        ("<cpu><model>Haswell</model></cpu>\n<cpu>\n  <model>Nehal", 3, "the file ends inside <model> of line 3: it is cut short"),
    ])
    func aBrokenConcatenatedFileIsDescribedInItsOwnTerms(text: String, line: Int, message: String) {
        #expect {
            _ = try CPUDefinitionReader.read(Array(text.utf8), path: "fleet.xml")
        } throws: { error in
            error as? CPUCompatError == .malformedXML(path: "fleet.xml", line: line, message: message)
        }
    }

    @Test func givenBackPagesReadAsZeroAndTheRestIsKept() throws {
        let folder = makeScratchDirectory()
        defer { removeTree(folder) }
        let path = folder + "/bytes"
        let original = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 % 251 + 1) }
        #expect(FileManager.default.createFile(atPath: path, contents: Data(original)))
        let file = try #require(try FileSystem.readPaged(path, minimumSize: 1 << 20))
        #expect(Array(file.bytes) == original)
        file.giveBack(100..<(2 << 20) + 100)
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let firstPage = (100 + page - 1) / page * page, endPage = ((2 << 20) + 100) / page * page
        #expect(Array(file.bytes[..<firstPage]) == Array(original[..<firstPage]))
        #expect(file.bytes[firstPage..<endPage].allSatisfy { $0 == 0 })
        #expect(Array(file.bytes[endPage...]) == Array(original[endPage...]))
        // A small file, standard input and a folder are left to the ordinary reading.
        #expect(try FileSystem.readPaged(path, minimumSize: 4 << 20) == nil)
        #expect(try FileSystem.readPaged("-", minimumSize: 1) == nil)
        #expect(try FileSystem.readPaged(folder, minimumSize: 1) == nil)
    }

    @Test func whiteSpaceIsTrimmedAsBytesAndKeepsOtherCharacters() {
        #expect(" \t\r\nSkylake-é\r\n ".trimmingXMLWhitespace() == "Skylake-é")
        #expect("é x é".trimmingXMLWhitespace() == "é x é")
        #expect("\u{00A0}Haswell".trimmingXMLWhitespace() == "\u{00A0}Haswell", "a no-break space is not XML white space")
        #expect(" \n\t".trimmingXMLWhitespace() == "")
        #expect("".trimmingXMLWhitespace() == "")
    }
}
