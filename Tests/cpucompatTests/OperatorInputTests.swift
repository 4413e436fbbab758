import Foundation
import Testing

// What operators actually give cpucompat, and where its output goes, through
// the built binary: concatenated documents, a guest where a host is expected,
// a host-model guest without the host it started on, outputs that are not
// regular files, failing writes, and input text that tries to forge lines.

/// A scratch folder under /tmp for one test, removed by `remove()`.
private struct Scratch {
    let folder: String = {
        let path = NSTemporaryDirectory() + "cpucompat-operator-" + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }()

    func path(_ name: String) -> String { folder + "/" + name }

    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        try text.write(toFile: path(name), atomically: true, encoding: .utf8)
        return path(name)
    }

    func remove() { try? FileManager.default.removeItem(atPath: folder) }
}

private let oracleRoot = ProcessInfo.processInfo.environment["CPUCOMPAT_ORACLES"].flatMap { $0.isEmpty ? nil : $0 }
    ?? "/var/cache/cpucompat-oracles"

/// Linux's device number of /dev/null, (1, 3), as glibc's makedev encodes it
/// (which Swift does not import: it is a macro).
private let nullDevice: dev_t = (1 << 8) | 3

private func oracleInstalled(_ release: String) -> Bool {
    FileManager.default.isExecutableFile(atPath: "\(oracleRoot)/bin/virsh-\(release)")
}

@Suite struct ConcatenatedInputTests {
    @Test(.enabled(if: oracleInstalled("9.0") && oracleInstalled("11.3") && oracleInstalled("12.9"),
                   "the libvirt oracles (../shared/oracles/provision) are not installed: SKIPPED"),
          arguments: ["9.0", "11.3", "12.9"])
    func catOfTwoCapabilitiesIsWhatVirshPrints(release: String) throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let both = try String(contentsOfFile: CLI.fixture("kvm02.xml"), encoding: .utf8)
            + String(contentsOfFile: CLI.fixture("kvm03.xml"), encoding: .utf8)
        let file = try scratch.write("all.xml", both)
        for flags in [[], ["--features"]] {
            let virsh = try CLI.runProgram("\(oracleRoot)/bin/virsh-\(release)", ["-c", "test:///default", "cpu-baseline", file] + flags)
            try #require(virsh.status == 0, "virsh \(release): \(virsh.stderr)")
            let ours = try CLI.run(["baseline", "--cpu-map", "\(oracleRoot)/\(release)/cpu_map", file] + flags)
            #expect(ours.status == 0, "\(ours.stderr)")
            #expect(ours.stdout == virsh.stdout, "libvirt \(release) \(flags)")
            let fromStandardInput = try CLI.run(["baseline", "--cpu-map", "\(oracleRoot)/\(release)/cpu_map", "-"] + flags, input: both)
            #expect(fromStandardInput.stdout == virsh.stdout)
        }
    }

    @Test func concatenatedDomainCapabilitiesAreTwoHosts() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let both = try String(contentsOfFile: CLI.fixture("kvm02-domcaps.xml"), encoding: .utf8)
            + String(contentsOfFile: CLI.fixture("kvm03-domcaps.xml"), encoding: .utf8)
        let file = try scratch.write("all-domcaps.xml", both)
        let together = try CLI.run(["baseline", "--cpu-map", "built-in:9.0", file])
        let apart = try CLI.run(["baseline", "--cpu-map", "built-in:9.0", CLI.fixture("kvm02-domcaps.xml"), CLI.fixture("kvm03-domcaps.xml")])
        #expect(together.status == 0, "\(together.stderr)")
        #expect(together.stdout == apart.stdout)
        #expect(together.stdout.contains("<model fallback='allow'>IvyBridge-IBRS</model>"))
        // In diff, a file holding two hosts is not one host.
        let diff = try CLI.run(["diff", file, CLI.fixture("kvm03.xml")])
        #expect(diff.status == 2)
        #expect(diff.stderr.hasSuffix("holds 2 CPUs; one is expected here\n"))
    }

    @Test func matrixAndModelsCountEveryHostOfAConcatenatedFile() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let both = try String(contentsOfFile: CLI.fixture("kvm02.xml"), encoding: .utf8)
            + String(contentsOfFile: CLI.fixture("kvm03.xml"), encoding: .utf8)
        let file = try scratch.write("all.xml", both)
        let matrix = try CLI.run(["matrix", "--format", "json", file])
        #expect(matrix.status == 0, "\(matrix.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(matrix.stdout.utf8)) as? [String: Any])
        #expect((object["groups"] as? [Any])?.count == 2)
        let models = try CLI.run(["models", file])
        #expect(models.stdout.hasPrefix("2 hosts;"), "\(models.stdout.prefix(200))")
    }
}

@Suite struct GuestWhereAHostIsExpectedTests {
    static let refusal = "Fixtures/guest01.xml: is a guest's domain definition, not a host's CPU: "
        + "give the host's `virsh capabilities` or `virsh domcapabilities` output\n"

    @Test(arguments: [
        ["diff", "Fixtures/guest01.xml", "Fixtures/kvm02.xml"],
        ["diff", "Fixtures/kvm02.xml", "Fixtures/guest01.xml"],
        ["baseline", "Fixtures/kvm02.xml", "Fixtures/guest01.xml"],
        ["models", "Fixtures/kvm02.xml", "Fixtures/guest01.xml"],
        ["matrix", "Fixtures/kvm02.xml", "Fixtures/guest01.xml"],
        ["matrix", "Fixtures"],
        ["patch", "Fixtures/kvm02.xml", "--host", "Fixtures/guest01.xml"],
        ["compare", "--host", "Fixtures/guest01.xml", "Fixtures/kvm02.xml"],
        ["compare", "--host", "Fixtures/kvm03.xml", "--started-on", "Fixtures/guest01.xml", "Fixtures/guest01.xml"],
    ])
    func aDomainIsRefusedNamingTheFile(arguments: [String]) throws {
        let result = try CLI.run(arguments)
        #expect(result.status == 2)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr == "cpucompat: " + Self.refusal, "\(arguments)")
    }

    @Test(arguments: ["host-model", "host-passthrough", "maximum"])
    func aGuestCPUWithoutFeaturesOfItsOwnIsNoHost(mode: String) throws {
        let result = try CLI.run(["baseline", "-"], input: "<cpu mode='\(mode)' check='partial'/>\n")
        #expect(result.status == 2)
        #expect(result.stderr == "cpucompat: -:1: is a guest CPU in mode '\(mode)', whose features come from the host it "
                + "starts on, not a host's CPU: give the host's `virsh capabilities` or `virsh domcapabilities` output\n")
    }

    @Test func aHostModelGuestNeedsTheHostItStartedOn() throws {
        let alone = try CLI.run(["compare", "--host", "Fixtures/kvm03.xml", "Fixtures/guest01.xml"])
        #expect(alone.status == 2)
        #expect(alone.stdout.isEmpty)
        #expect(alone.stderr == "cpucompat: Fixtures/guest01.xml:28: the guest's CPU is host-model: it takes the CPU of the "
                + "host it starts on, so whether it can run on Fixtures/kvm03.xml depends on that host; name it with --started-on FILE\n")
        let asked = try CLI.run(["compare", "--host", "Fixtures/kvm03.xml", "--started-on", "Fixtures/kvm02.xml", "Fixtures/guest01.xml"])
        #expect(asked.status == 1)
        #expect(asked.stdout.contains("missing features: vmx,fma,movbe,bmi1,avx2,bmi2,invpcid"))
    }
}

@Suite struct OutputsThatDoNoHarmTests {
    static let patch = ["patch", "Fixtures/guest01.xml", "--host", "Fixtures/kvm02.xml", "--host", "Fixtures/kvm03.xml"]

    @Test func outputOntoASymlinkIsRefusedOrFollowedNeverReplaced() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let target = try scratch.write("target.xml", "old\n")
        try FileManager.default.createSymbolicLink(atPath: scratch.path("link.xml"), withDestinationPath: target)
        let refused = try CLI.run(Self.patch + ["--output", scratch.path("link.xml")])
        #expect(refused.status == 2)
        #expect(refused.stderr.hasSuffix("cpucompat: \(scratch.path("link.xml")): is a symbolic link; --follow-symlinks writes through it to its target\n"))
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "old\n")
        let attributes = try FileManager.default.attributesOfItem(atPath: scratch.path("link.xml"))
        #expect(attributes[.type] as? FileAttributeType == .typeSymbolicLink)

        let followed = try CLI.run(Self.patch + ["--output", scratch.path("link.xml"), "--follow-symlinks"])
        #expect(followed.status == 0, "\(followed.stderr)")
        #expect(try String(contentsOfFile: target, encoding: .utf8).contains("<model fallback='forbid'>IvyBridge-IBRS</model>"))
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: scratch.path("link.xml")) == target)
    }

    @Test func outputOntoAFIFOIsWrittenThrough() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let fifo = scratch.path("fifo")
        try #require(mkfifo(fifo, 0o600) == 0)
        let copy = scratch.path("copy.xml")
        // A reader on the FIFO, as a pipeline would have.
        let reader = Process()
        reader.executableURL = URL(fileURLWithPath: "/bin/sh")
        reader.arguments = ["-c", "cat \"$0\" > \"$1\"", fifo, copy]
        try reader.run()
        let result = try CLI.run(Self.patch + ["--output", fifo])
        reader.waitUntilExit()
        #expect(result.status == 0, "\(result.stderr)")
        var status = stat()
        #expect(lstat(fifo, &status) == 0 && status.st_mode & S_IFMT == S_IFIFO, "the FIFO is still a FIFO")
        let direct = try CLI.run(Self.patch)
        #expect(try String(contentsOfFile: copy, encoding: .utf8) == direct.stdout)
    }

    @Test(.enabled(if: getuid() == 0, "mknod needs root: the device-node case is SKIPPED"))
    func outputOntoADeviceNodeIsWrittenThroughNotReplaced() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let node = scratch.path("null")
        // A character device like /dev/null (1, 3), made in the scratch folder, never in the real /dev.
        try #require(mknod(node, S_IFCHR | 0o666, nullDevice) == 0)
        let result = try CLI.run(Self.patch + ["--output", node])
        #expect(result.status == 0, "\(result.stderr)")
        var status = stat()
        #expect(lstat(node, &status) == 0 && status.st_mode & S_IFMT == S_IFCHR, "the device node is still a device node")
        #expect(status.st_rdev == nullDevice)
    }

    @Test func outputOntoDevStdoutWritesThroughToThePipe() throws {
        let result = try CLI.run(Self.patch + ["--output", "/dev/stdout"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == (try CLI.run(Self.patch)).stdout)
    }

    @Test func aFIFOIsReadOnceItsWriterComes() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let fifo = scratch.path("hosts.fifo")
        try #require(mkfifo(fifo, 0o600) == 0)
        // The writer opens the FIFO only after cpucompat has started reading it.
        let writer = Process()
        writer.executableURL = URL(fileURLWithPath: "/bin/sh")
        writer.arguments = ["-c", "sleep 1; cat \"$0\" > \"$1\"", CLI.fixture("kvm02.xml"), fifo]
        try writer.run()
        let result = try CLI.run(["baseline", "--cpu-map", "built-in:9.0", fifo])
        writer.waitUntilExit()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == (try CLI.run(["baseline", "--cpu-map", "built-in:9.0", "Fixtures/kvm02.xml"])).stdout)
    }

    @Test func outputDashIsStandardOutput() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let dash = try CLI.run(Self.patch + ["--output", "-"])
        let plain = try CLI.run(Self.patch)
        #expect(dash.status == 0)
        #expect(dash.stdout == plain.stdout)
        #expect(!FileManager.default.fileExists(atPath: CLI.package + "/-"), "no file named -")
    }

    @Test(arguments: [
        ["baseline", "Fixtures/kvm02.xml", "Fixtures/kvm03.xml"],
        ["diff", "Fixtures/kvm02.xml", "Fixtures/kvm03.xml"],
        ["patch", "Fixtures/guest01.xml", "--host", "Fixtures/kvm02.xml", "--host", "Fixtures/kvm03.xml"],
        ["models", "Fixtures/kvm02.xml", "Fixtures/kvm03.xml"],
        ["explain", "avx2"],
        ["map"],
    ])
    func aFailedWriteToStandardOutputIsAnError(arguments: [String]) throws {
        let command = ([CLI.binary] + arguments).map { "'\($0)'" }.joined(separator: " ")
        let result = try CLI.runProgram("/bin/sh", ["-c", command + " > /dev/full"])
        #expect(result.status == 2, "\(arguments): \(result.stderr)")
        #expect(result.stderr.hasSuffix("cpucompat: standard output: no space left on device\n"), "\(result.stderr)")
    }

    @Test func standardOutputCarriesTheSameBytesAsOutput() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        // A UTF-8 domain with CRLF line ends and non-ASCII text, declaring another encoding,
        // which libvirt ignores: it reads every domain as UTF-8.
        let original = try String(contentsOfFile: CLI.fixture("guest01.xml"), encoding: .utf8)
        let text = "<?xml version='1.0' encoding='ISO-8859-1'?>\n" + original
            .replacingOccurrences(of: "<name>guest01</name>", with: "<name>guest01</name>\n  <description>café 日本</description>")
        let domain = try scratch.write("declared.xml", text.replacingOccurrences(of: "\n", with: "\r\n"))
        let written = scratch.path("written.xml"), printed = scratch.path("printed.xml")
        let hosts = "--host Fixtures/kvm02.xml --host Fixtures/kvm03.xml"
        let result = try CLI.runProgram("/bin/sh", ["-c", "'\(CLI.binary)' patch '\(domain)' \(hosts) --output '\(written)' "
                                                      + "&& '\(CLI.binary)' patch '\(domain)' \(hosts) > '\(printed)'"])
        #expect(result.status == 0, "\(result.stderr)")
        let fromFile = try Data(contentsOf: URL(fileURLWithPath: written))
        let fromStandardOutput = try Data(contentsOf: URL(fileURLWithPath: printed))
        #expect(fromFile == fromStandardOutput)
        let patched = String(decoding: fromStandardOutput, as: UTF8.self)
        #expect(patched.contains("<description>café 日本</description>\r\n"), "the text and its CRLF are kept")
        #expect(patched.contains("<cpu mode='custom' match='exact' check='partial'>\r\n"))
    }

    @Test func aDomainInAnotherEncodingIsRefusedAsLibvirtRefusesIt() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        // Latin-1 bytes: 0xE9 is 'é', which is not UTF-8. libvirt 9.0 and 12.9 refuse such a
        // domain ("Input is not proper UTF-8"), whatever its declaration says.
        let original = try String(contentsOfFile: CLI.fixture("guest01.xml"), encoding: .utf8)
        var bytes = Array("<?xml version='1.0' encoding='ISO-8859-1'?>\n".utf8)
        bytes += Array(original.replacingOccurrences(of: "<name>guest01</name>", with: "<name>guest01</name>\n  <description>caf\u{1}</description>").utf8)
            .map { $0 == 0x01 ? 0xE9 : $0 }
        let domain = scratch.path("latin1.xml")
        try Data(bytes).write(to: URL(fileURLWithPath: domain))
        let line = 1 + bytes.prefix { $0 != 0xE9 }.filter { $0 == 0x0A }.count
        for arguments in [["patch", domain], ["patch", domain, "--in-place"]] {
            let result = try CLI.run(arguments + ["--host", "Fixtures/kvm02.xml", "--host", "Fixtures/kvm03.xml"])
            #expect(result.status == 2)
            #expect(result.stdout.isEmpty)
            #expect(result.stderr == "cpucompat: \(domain):\(line): not valid UTF-8: the file declares ISO-8859-1, but libvirt reads a "
                    + "domain as UTF-8 whatever it declares, and refuses this one too; convert it: iconv -f ISO-8859-1 -t UTF-8\n")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: domain)) == Data(bytes), "the file is unchanged")
    }
}

@Suite struct UntrustedTextTests {
    @Test func aFeatureNameCannotForgeADiagnosticLine() throws {
        // A newline (as a character reference) in a feature name of the domain,
        // which patch keeps and mentions in a note.
        let scratch = Scratch()
        defer { scratch.remove() }
        let domain = try String(contentsOfFile: CLI.fixture("guest01.xml"), encoding: .utf8)
            .replacingOccurrences(of: "<cpu mode='host-model' check='partial'/>",
                                  with: "<cpu mode='custom' match='exact'><model>IvyBridge-IBRS</model>"
                                      + "<feature policy='disable' name='x&#10;cpucompat: error: forged'/></cpu>")
        let file = try scratch.write("forged.xml", domain)
        let result = try CLI.run(["patch", file, "--host", "Fixtures/kvm02.xml"])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stderr.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        #expect(lines.allSatisfy { $0.hasPrefix("cpucompat: note: ") }, "\(result.stderr)")
        #expect(!lines.contains { $0.hasPrefix("cpucompat: error") })
        #expect(result.stderr.contains("cpucompat: note: dropped <feature policy='disable' name='x\\ncpucompat: error: forged'/>: "
                                       + "the CPU map in use does not define it\n"))
        #expect(!result.stdout.contains("forged"), "a feature the map lacks is not written")
    }

    @Test func aLineBreakInAKeptAttributeStaysACharacterReference() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let domain = try String(contentsOfFile: CLI.fixture("guest01.xml"), encoding: .utf8)
            .replacingOccurrences(of: "<cpu mode='host-model' check='partial'/>",
                                  with: "<cpu mode='host-model' check='partial' note='a&#10;b&#9;c'/>")
        let file = try scratch.write("attribute.xml", domain)
        let once = try CLI.run(["patch", file, "--host", "Fixtures/kvm02.xml", "--host", "Fixtures/kvm03.xml"])
        #expect(once.status == 0, "\(once.stderr)")
        #expect(once.stdout.contains("note='a&#10;b&#9;c'"))
        let again = try CLI.run(["patch", "-", "--host", "Fixtures/kvm02.xml", "--host", "Fixtures/kvm03.xml"], input: once.stdout)
        #expect(again.stdout == once.stdout, "patching the output again changes nothing")
    }

    @Test func c1ControlCharactersAreEscaped() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        // U+009B is the C1 control sequence introducer: a terminal acts on it.
        let file = try scratch.write("c1.xml", "<cpu><arch>x86_64</arch><model>Has\u{9B}2Jwell</model></cpu>\n")
        let result = try CLI.run(["baseline", file])
        #expect(result.status == 2)
        #expect(!result.stderr.unicodeScalars.contains { (0x80...0x9F).contains($0.value) })
        #expect(result.stderr.contains("Unknown CPU model Has\\u{9b}2Jwell"))
    }
}

@Suite struct FleetFolderTests {
    @Test func keepGoingReportsEveryBrokenFileAndAnswersForTheRest() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        try FileManager.default.createDirectory(atPath: scratch.path("fleet/rack2"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: CLI.fixture("kvm02.xml"), toPath: scratch.path("fleet/kvm02.xml"))
        try FileManager.default.copyItem(atPath: CLI.fixture("kvm03.xml"), toPath: scratch.path("fleet/rack2/KVM03.XML"))
        try scratch.write("fleet/broken.xml", "<capabilities><host><cpu>")
        try FileManager.default.copyItem(atPath: CLI.fixture("guest01.xml"), toPath: scratch.path("fleet/guest01.xml"))
        let fleet = scratch.path("fleet")

        let stopped = try CLI.run(["matrix", "--recursive", fleet])
        #expect(stopped.status == 2, "without --keep-going the first bad file stops the run")
        #expect(stopped.stdout.isEmpty)

        for command in ["matrix", "models", "baseline"] {
            let result = try CLI.run([command, "--recursive", "--keep-going", fleet])
            #expect(result.status == 3, "\(command): \(result.stderr)")
            let lines = result.stderr.split(separator: "\n").filter { $0.hasPrefix("cpucompat: skipped: ") }
            #expect(lines.count == 2, "\(command): \(result.stderr)")
            #expect(lines.contains { $0.hasPrefix("cpucompat: skipped: \(fleet)/broken.xml:") })
            #expect(lines.contains { $0 == "cpucompat: skipped: \(fleet)/guest01.xml: is a guest's domain definition, not a host's CPU: "
                                        + "give the host's `virsh capabilities` or `virsh domcapabilities` output" })
            #expect(!result.stdout.isEmpty, "\(command) answers for the readable hosts")
        }
        // Both readable hosts were read: KVM03.XML in a subfolder, upper case.
        let baseline = try CLI.run(["baseline", "--recursive", "--keep-going", "--cpu-map", "built-in:9.0", fleet])
        let expected = try CLI.run(["baseline", "--cpu-map", "built-in:9.0", "Fixtures/kvm02.xml", "Fixtures/kvm03.xml"])
        #expect(baseline.stdout == expected.stdout)
    }

    @Test func recursiveDoesNotFollowALinkToAnAncestor() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        try FileManager.default.createDirectory(atPath: scratch.path("fleet"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: CLI.fixture("kvm02.xml"), toPath: scratch.path("fleet/kvm02.xml"))
        try FileManager.default.createSymbolicLink(atPath: scratch.path("fleet/loop"), withDestinationPath: scratch.path("fleet"))
        let result = try CLI.run(["models", "--recursive", scratch.path("fleet")])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("1 host;"))
    }

    @Test func concatenatedDomainCapabilitiesKeepTheirModelsApart() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        // The second document's host-model is unsupported: its custom models belong to no host.
        let second = try String(contentsOfFile: CLI.fixture("kvm03-domcaps.xml"), encoding: .utf8)
            .replacingOccurrences(of: "<mode name='host-model' supported='yes'>", with: "<mode name='host-model' supported='no'>")
        try #require(second.contains("supported='no'"))
        let file = try scratch.write("both.xml", try String(contentsOfFile: CLI.fixture("kvm02-domcaps.xml"), encoding: .utf8) + second)
        let together = try CLI.run(["models", "--format", "json", "--all", file])
        let alone = try CLI.run(["models", "--format", "json", "--all", CLI.fixture("kvm02-domcaps.xml")])
        let declared = { (text: String) throws -> [String] in
            let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
            let models = try #require(object["models"] as? [[String: Any]])
            return models.map { "\($0["name"] ?? ""): \(($0["declared"] as? [Any])?.count ?? 0)" }
        }
        #expect(try declared(together.stdout) == declared(alone.stdout))
    }

    @Test func modelsCheckOfAFeatureIsBadInput() throws {
        let result = try CLI.run(["models", "--check", "avx2", "Fixtures/kvm02.xml"])
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix("cpucompat: --check: Unknown CPU model avx2"))
    }

    @Test func matrixCheckAnswersWhetherEveryHostTakesEveryOthersGuests() throws {
        let differ = try CLI.run(["matrix", "--check", "Fixtures/kvm02.xml", "Fixtures/kvm03.xml"])
        #expect(differ.status == 1)
        let plain = try CLI.run(["matrix", "Fixtures/kvm02.xml", "Fixtures/kvm03.xml"])
        #expect(plain.status == 0, "without --check matrix answers with status 0")
        let identical = try CLI.run(["matrix", "--check", "Fixtures/kvm03.xml", "Fixtures/kvm03.xml"])
        #expect(identical.status == 0, "\(identical.stdout)")
    }

    @Test func modelsCheckAnswersWhetherEveryHostRunsAModel() throws {
        let runs = try CLI.run(["models", "--check", "IvyBridge-IBRS", "Fixtures/kvm02.xml", "Fixtures/kvm03.xml"])
        #expect(runs.status == 0, "\(runs.stderr)")
        let blocked = try CLI.run(["models", "--check", "Haswell-noTSX-IBRS", "Fixtures/kvm02.xml", "Fixtures/kvm03.xml"])
        #expect(blocked.status == 1)
        #expect(blocked.stderr == "cpucompat: not every host can run Haswell-noTSX-IBRS\n")
        let unknown = try CLI.run(["models", "--check", "IvyBridge-IBRZ", "Fixtures/kvm02.xml"])
        #expect(unknown.status == 2)
        #expect(unknown.stderr.hasPrefix("cpucompat: --check: Unknown CPU model IvyBridge-IBRZ: did you mean IvyBridge-IBRS?"))
    }
}

@Suite struct MessagesThatSayWhatToDoTests {
    @Test func aVendorMismatchNamesBothFilesAndTheWayOut() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let amd = try scratch.write("amd.xml", "<cpu>\n  <arch>x86_64</arch>\n  <model>EPYC</model>\n  <vendor>AMD</vendor>\n</cpu>\n")
        let result = try CLI.run(["baseline", "Fixtures/kvm02.xml", amd])
        #expect(result.status == 2)
        #expect(result.stderr == "cpucompat: CPU vendors do not match: Intel in Fixtures/kvm02.xml:5, AMD in \(amd):1 "
                + "(--allow-cross-vendor picks a vendor-neutral model instead)\n")
    }

    @Test func conflictingAndMisspeltOptionsSaySo() throws {
        let both = try CLI.run(["patch", "Fixtures/guest01.xml", "--host", "Fixtures/kvm02.xml", "--baseline", "Fixtures/kvm03.xml"])
        #expect(both.status == 64)
        #expect(both.stderr.hasPrefix("cpucompat: --host and --baseline conflict"))
        let misspelt = try CLI.run(["patch", "Fixtures/guest01.xml", "--hosts", "Fixtures/kvm02.xml"])
        #expect(misspelt.status == 64)
        #expect(misspelt.stderr.hasPrefix("cpucompat: unknown option '--hosts'; did you mean '--host'?\n"), "\(misspelt.stderr)")
        let neither = try CLI.run(["patch", "Fixtures/guest01.xml"])
        #expect(neither.status == 64)
        #expect(neither.stderr.hasPrefix("cpucompat: give each host the guest must run on with --host FILE"))
    }

    @Test func standardInputTwiceIsRefused() throws {
        let baseline = try CLI.run(["baseline", "-", "-"], input: "<cpu/>")
        #expect(baseline.status == 2)
        #expect(baseline.stderr == "cpucompat: -: is given more than once, but standard input can be read only once\n")
        let diff = try CLI.run(["diff", "-", "-"], input: "<cpu/>")
        #expect(diff.status == 64)
        #expect(diff.stderr.hasPrefix("cpucompat: standard input (-) can be read only once"))
    }

    @Test func incompatibleCPUsAreNamed() throws {
        let scratch = Scratch()
        defer { scratch.remove() }
        let b = try scratch.write("b.xml", "<cpu>\n<arch>x86_64</arch>\n<model>486</model>\n</cpu>\n")
        // 486 is fpu, pse and vme; c takes all three away, so the two share nothing.
        let c = try scratch.write("c.xml", "<cpu>\n<arch>x86_64</arch>\n<model>486</model>\n<feature policy='disable' name='fpu'/>"
                                  + "<feature policy='disable' name='vme'/><feature policy='disable' name='pse'/></cpu>\n")
        let none = try CLI.run(["baseline", "--cpu-map", "built-in:9.0", c, b])
        #expect(none.status == 2)
        #expect(none.stderr == "cpucompat: CPUs are incompatible: the 2 CPUs (\(c):1, \(b):1) have no feature in common\n", "\(none.stderr)")
    }

    @Test func aMisspeltCommandGetsTheNearestName() throws {
        let result = try CLI.run(["basline", "Fixtures/kvm02.xml"])
        #expect(result.status == 64)
        #expect(result.stderr.hasPrefix("cpucompat: unknown command 'basline' (did you mean baseline?); the commands are "
                + "diff, baseline, patch, compare, models, collect, matrix, guests, export, preflight, explain, map\n"
                + "usage: cpucompat <subcommand>\n"))
    }

    @Test func matrixJSONSaysWhetherEveryHostTakesEveryOthersGuests() throws {
        for (hosts, expected) in [(["Fixtures/kvm02.xml", "Fixtures/kvm03.xml"], false), (["Fixtures/kvm03.xml", "Fixtures/kvm03.xml"], true)] {
            let result = try CLI.run(["matrix", "--format", "json"] + hosts)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
            #expect(object["everyHostCanTakeEveryOthersGuests"] as? Bool == expected)
        }
    }

    @Test(arguments: [
        (["map", "--format", "xml"], "'xml' is not one of text, json"),
        (["baseline", "--format", "text", "Fixtures/kvm02.xml"], "'text' is not one of xml, json"),
        (["diff", "--format", "xml", "Fixtures/kvm02.xml", "Fixtures/kvm03.xml"], "'xml' is not one of text, json"),
    ])
    func eachCommandOffersOnlyItsOwnFormats(arguments: [String], offered: String) throws {
        let result = try CLI.run(arguments)
        #expect(result.status == 64)
        #expect(result.stderr.hasPrefix("cpucompat: --format <format>: \(offered)\n"), "\(result.stderr)")
    }

    @Test func quietSilencesWarningsAndNotes() throws {
        let baseline = try CLI.run(["baseline", "--quiet", "Fixtures/kvm02.xml", "Fixtures/kvm03.xml"])
        #expect(baseline.status == 0)
        #expect(baseline.stderr.isEmpty)
        let loud = try CLI.run(["baseline", "Fixtures/kvm02.xml", "Fixtures/kvm03.xml"])
        #expect(loud.stderr.contains("cpucompat: warning: "))
        #expect(loud.stdout == baseline.stdout)
        let patch = try CLI.run(["patch", "-q", "Fixtures/guest01.xml", "--host", "Fixtures/kvm02.xml", "--host", "Fixtures/kvm03.xml"])
        #expect(patch.status == 0)
        #expect(patch.stderr.isEmpty)
    }
}

@Suite struct ReadableFleetOutputTests {
    @Test(arguments: [["models", "--all"], ["models"], ["matrix"]])
    func noLineIsLongerThanATerminal(command: [String]) throws {
        let result = try CLI.run(command + ["--cpu-map", "built-in:9.0", "Fixtures/kvm02.xml", "Fixtures/kvm03.xml"])
        #expect(result.status == 0, "\(result.stderr)")
        let long = result.stdout.split(separator: "\n").filter { $0.count > 100 }
        let first = long.first.map { String($0) } ?? ""
        #expect(long.isEmpty, "\(first)")
    }

    @Test func modelsHidesModelsNoHostRunsUnlessAskedForAll() throws {
        let some = try CLI.run(["models", "--cpu-map", "built-in:9.0", "Fixtures/kvm02.xml", "Fixtures/kvm03.xml"])
        let all = try CLI.run(["models", "--all", "--cpu-map", "built-in:9.0", "Fixtures/kvm02.xml", "Fixtures/kvm03.xml"])
        #expect(!some.stdout.contains("  Icelake-Server "), "no host runs Icelake-Server")
        #expect(all.stdout.contains("  Icelake-Server "))
        #expect(some.stdout.contains("  Haswell-noTSX-IBRS   1/2\n      Fixtures/kvm03.xml lacks: fma,movbe,bmi1,avx2,bmi2,invpcid\n"))
        #expect(all.stdout.contains("  EPYC "), "--all shows other vendors' models too")
    }
}

@Suite struct BackupSuffixTests {
    @Test func aBackupSuffixWithASlashIsRefused() throws {
        let result = try CLI.run(["patch", "--in-place", "--backup", "/../elsewhere", "Fixtures/guest01.xml", "--host", "Fixtures/kvm02.xml"])
        #expect(result.status == 64)
        #expect(result.stderr.hasPrefix("cpucompat: --backup is a suffix for the file's name (.orig), not a path: it must not contain '/'"))
    }
}
