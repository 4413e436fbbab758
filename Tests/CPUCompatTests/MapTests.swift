import Foundation
import Testing
@testable import CPUCompat

@Suite struct MapLoaderTests {
    @Test func loadsAFolderInIncludeOrder() throws {
        let folder = makeScratchDirectory()
        defer { removeTree(folder) }
        write("""
        <cpus>
          <arch name='x86'>
            <include filename='vendors.xml'/>
            <include filename='features.xml'/>
            <group name='old'><include filename='models.xml'/></group>
          </arch>
        </cpus>
        """, to: folder + "/index.xml")
        write("<cpus><vendor name='Intel' string='GenuineIntel'/></cpus>", to: folder + "/vendors.xml")
        write("""
        <cpus>
          <feature name='fpu'><cpuid eax_in='0x01' edx='0x00000001'/></feature>
          <feature name='sse4.1'><alias name='sse4_1' source='qemu'/><cpuid eax_in='0x01' ecx='0x00080000'/></feature>
          <feature name='invtsc' migratable='no'><cpuid eax_in='0x80000007' edx='0x00000100'/></feature>
          <feature name='rdctl-no'><msr index='0x10a' edx='0x00000000' eax='0x00000001'/></feature>
          <feature name='fsgsbase'><cpuid eax_in='0x07' ecx_in='0x00' ebx='0x00000001'/></feature>
        </cpus>
        """, to: folder + "/features.xml")
        write("""
        <cpus>
          <model name='Base'><vendor name='Intel'/><signature family='6' model='60'/><feature name='fpu'/></model>
          <model name='Base-v2'><decode host='on' guest='off'/><model name='Base'/><feature name='sse4_1'/></model>
        </cpus>
        """, to: folder + "/models.xml")

        let map = try CPUMap(contentsOf: folder)
        let x86 = try #require(map.x86)
        #expect(map.origin == .directory(folder))
        #expect(x86.features.map(\.name) == ["fpu", "sse4.1", "invtsc", "rdctl-no", "fsgsbase"])
        #expect(x86.feature(named: "sse4_1")?.name == "sse4.1")
        #expect(x86.feature(named: "invtsc")?.isMigratable == false)
        #expect(x86.feature(named: "fpu")?.bits == [.cpuid(leaf: 1, subleaf: nil, register: .edx, mask: 1)])
        #expect(x86.feature(named: "fsgsbase")?.bits == [.cpuid(leaf: 7, subleaf: 0, register: .ebx, mask: 1)])
        #expect(x86.feature(named: "rdctl-no")?.bits == [.msr(index: 0x10a, edx: 0, eax: 1)])
        let child = try #require(x86.model(named: "Base-v2"))
        #expect(child.parent == "Base")
        #expect(child.vendor == "Intel")
        #expect(child.signatures == [CPUSignature(family: 6, model: 60, steppings: nil)])
        #expect(x86.names(of: child.features) == ["fpu", "sse4.1"])
        #expect(child.decodesHost && !child.decodesGuest)
    }

    @Test func loadsALegacySingleFileMap() throws {
        let folder = makeScratchDirectory()
        defer { removeTree(folder) }
        write("""
        <cpus>
          <arch name='x86'>
            <vendor name='AMD' string='AuthenticAMD'/>
            <feature name='fpu'><cpuid function='0x00000001' eax_in='0x01' edx='0x00000001'/></feature>
            <model name='qemu64'><feature name='fpu'/></model>
          </arch>
          <arch name='ppc64'>
            <vendor name='IBM'/>
            <model name='POWER8'><vendor name='IBM'/><pvr value='0x004d0000' mask='0xffff0000'/></model>
          </arch>
        </cpus>
        """, to: folder + "/cpu_map.xml")
        let map = try CPUMap(contentsOf: folder + "/cpu_map.xml")
        #expect(map.origin == .legacyFile(folder + "/cpu_map.xml"))
        #expect(map.architectures.map(\.name) == ["x86", "ppc64"])
        #expect(map.architecture(named: "ppc64")?.model(named: "POWER8")?.processorVersions == ["0x004d0000"])
        #expect(map.x86?.model(named: "qemu64")?.vendor == nil)
    }

    @Test(arguments: [
        ("<cpus><arch name='x86'><include filename='../etc/passwd'/></arch></cpus>",
         "include '../etc/passwd' points outside the CPU map folder"),
        ("<cpus><arch name='x86'><feature name='a'/><feature name='a'/></arch></cpus>",
         "CPU feature a is defined twice"),
        ("<cpus><arch name='x86'><model name='m'/><model name='m'/></arch></cpus>",
         "CPU model m is defined twice"),
        ("<cpus><arch name='x86'><model name='m'><feature name='nope'/></model></arch></cpus>",
         "Unknown CPU feature nope"),
        ("<cpus><arch name='x86'><model name='m'><model name='ghost'/></model></arch></cpus>",
         "CPU model m inherits from unknown model ghost"),
        ("<cpus><arch name='x86'><vendor name='AMD'/><model name='m'><vendor name='Acme'/></model></arch></cpus>",
         "Unknown CPU vendor Acme"),
        ("<cpu><model>Haswell</model></cpu>", "not a CPU map (the root element is not <cpus>)"),
    ])
    func rejectsBrokenMaps(index: String, message: String) throws {
        let folder = makeScratchDirectory()
        defer { removeTree(folder) }
        write(index, to: folder + "/index.xml")
        let error = #expect(throws: CPUCompatError.self) { try CPUMap(contentsOf: folder) }
        let description = error?.description ?? ""
        #expect(description.hasPrefix(folder + "/index.xml:1: "))
        #expect(description.hasSuffix(message))
    }

    @Test func reportsAMissingFolder() {
        let error = #expect(throws: CPUCompatError.self) { try CPUMap.resolve(explicitPath: "/nonexistent/cpu_map") }
        #expect(error?.description == "/nonexistent/cpu_map: no such CPU map folder or file")
    }

    @Test(.enabled(if: FileSystem.exists(TestPaths.systemMap + "/index.xml"),
                   "libvirt's cpu_map is not installed (apt-get install libvirt-clients)"))
    func loadsTheInstalledMap() throws {
        let map = try CPUMap(contentsOf: TestPaths.systemMap)
        let x86 = try #require(map.x86)
        #expect(x86.features.count > 200)
        #expect(x86.model(named: "Haswell-noTSX-IBRS")?.vendor == "Intel")
        #expect(x86.vendors.map(\.name) == ["Intel", "AMD", "Hygon"])
        #expect(map.architecture(named: "ppc64") != nil)
        #expect(map.architecture(named: "arm") != nil)
    }

    @Test(.enabled(if: FileSystem.exists(TestPaths.masterMap + "/index.xml"),
                   "../shared/corpus is not beside the checkout"))
    func loadsTheNewestMapWithVersionedModels() throws {
        let map = try CPUMap(contentsOf: TestPaths.masterMap)
        let x86 = try #require(map.x86)
        let versioned = try #require(x86.model(named: "Haswell-v4"))
        let base = try #require(x86.model(named: "Haswell-noTSX-IBRS"))
        #expect(versioned.parent == "Haswell-noTSX-IBRS")
        #expect(versioned.features == base.features)
        #expect(versioned.vendor == "Intel")
        #expect(versioned.signatures == base.signatures)
        #expect(!versioned.decodesGuest)
        #expect(x86.features.count == 396)
    }
}

/// An oracle's map folder as ../shared/oracles/provision installs it.
private func oracleMap(_ release: String) -> String {
    let root = ProcessInfo.processInfo.environment["CPUCOMPAT_ORACLES"].flatMap { $0.isEmpty ? nil : $0 }
        ?? "/var/cache/cpucompat-oracles"
    return root + "/" + release + "/cpu_map"
}

private func oracleMapInstalled(_ release: String) -> Bool {
    FileSystem.exists(oracleMap(release) + "/index.xml")
}

@Suite struct BuiltInMapTests {
    @Test(arguments: [("9.0", "9.0.0", "9.0.0-4+deb12u2"), ("11.3", "11.3.0", "11.3.0-2~bpo12+1"),
                      ("12.9", "12.9.0", "12.9.0-1~bpo13+1")])
    func everyBuiltInMapLoadsAndStatesItsOrigin(release: String, version: String, package: String) throws {
        let map = try CPUMap.builtIn(release: release)
        #expect(map.origin == .builtIn(release: release))
        #expect(map.origin.description == "built-in:" + release)
        #expect(map.libvirtVersion == version)
        #expect(map.provenance == "cpu_map of Debian's libvirt0 package, version " + package)
        #expect(map.x86?.model(named: "IvyBridge-IBRS") != nil)
        #expect(try CPUMap.resolve(explicitPath: "built-in:" + release).libvirtVersion == version)
    }

    @Test func builtInIsTheNewestRelease() throws {
        #expect(BuiltInCPUMap.all.map(\.release) == ["9.0", "11.3", "12.9"])
        let map = try CPUMap.resolve(explicitPath: "built-in")
        #expect(map.libvirtVersion == "12.9.0")
        #expect(map.x86?.model(named: "Haswell-v2") != nil, "12.9 defines versioned models")
        let error = #expect(throws: CPUCompatError.self) { try CPUMap.resolve(explicitPath: "built-in:10.0") }
        #expect(error?.description == "built-in:10.0: no built-in CPU map of that release (there are built-in:9.0, built-in:11.3, built-in:12.9)")
    }

    @Test(.enabled(if: oracleMapInstalled("9.0"), "libvirt 9.0's map (../shared/oracles/provision) is not installed: SKIPPED"))
    func builtInMap9_0EqualsLibvirt9_0sMap() throws { try builtInMapEqualsOracleMap("9.0") }

    @Test(.enabled(if: oracleMapInstalled("11.3"), "libvirt 11.3's map (../shared/oracles/provision) is not installed: SKIPPED"))
    func builtInMap11_3EqualsLibvirt11_3sMap() throws { try builtInMapEqualsOracleMap("11.3") }

    @Test(.enabled(if: oracleMapInstalled("12.9"), "libvirt 12.9's map (../shared/oracles/provision) is not installed: SKIPPED"))
    func builtInMap12_9EqualsLibvirt12_9sMap() throws { try builtInMapEqualsOracleMap("12.9") }

    private func builtInMapEqualsOracleMap(_ release: String) throws {
        // Parse the folder for real: the shortcut would hand back the built-in map itself.
        let installed = try CPUMap(contentsOf: oracleMap(release), usingSnapshots: false)
        let builtIn = try CPUMap.builtIn(release: release)
        #expect(builtIn.architectures == installed.architectures)
        for (mine, theirs) in zip(builtIn.architectures, installed.architectures) {
            #expect(mine.models.map(\.retiredFeatureOrder) == theirs.models.map(\.retiredFeatureOrder))
        }
        #expect(builtIn.folderFingerprint == installed.folderFingerprint,
                "the installed map is the one the built-in map was made from")
        // The shortcut: the folder is recognised and named with its release.
        let recognised = try CPUMap(contentsOf: oracleMap(release))
        #expect(recognised.origin == .directory(oracleMap(release)))
        #expect(recognised.libvirtVersion == builtIn.libvirtVersion)
    }

    @Test(.enabled(if: oracleMapInstalled("12.9"), "libvirt 12.9's map (../shared/oracles/provision) is not installed: SKIPPED"))
    func aFolderThatDiffersFromEveryBuiltInMapIsParsedAndCached() throws {
        let folder = makeScratchDirectory()
        let cacheFolder = makeScratchDirectory() + "/cache/cpucompat"
        defer { removeTree(folder); removeTree(String(cacheFolder.dropLast("/cache/cpucompat".count))) }
        let source = oracleMap("12.9")
        for name in try FileSystem.contents(ofDirectory: source) where name.hasSuffix(".xml") {
            var text = String(decoding: try FileSystem.read(source + "/" + name), as: UTF8.self)
            if name == "x86_vendors.xml" {
                text = text.replacingAll("</cpus>", with: "  <vendor name='Acme' string='AcmeGenuine!'/>\n</cpus>")
            }
            write(text, to: folder + "/" + name)
        }
        let cache = CPUMapCache(folder: cacheFolder)
        let parsed = try CPUMap(contentsOf: folder, usingSnapshots: true, cache: cache)
        #expect(parsed.x86?.vendor(named: "Acme") != nil, "an edited map must not be taken for a built-in one")
        #expect(parsed.origin == .directory(folder))
        #expect(parsed.libvirtVersion == nil)
        let fingerprint = try #require(parsed.folderFingerprint)
        let entry = try #require(cache.entry(for: fingerprint))
        #expect(FileSystem.exists(entry), "the parsed map is kept in the cache")

        // A sound entry is used: doctor one (with a valid checksum) and see it come back.
        let doctored = parsed.snapshot(libvirtVersion: "doctored", provenance: nil)
        write(String(decoding: CPUMapCache.sealed(doctored), as: UTF8.self), to: entry)
        let fromCache = try CPUMap(contentsOf: folder, usingSnapshots: true, cache: cache)
        #expect(fromCache.libvirtVersion == "doctored")
        #expect(fromCache.architectures == parsed.architectures)

        // A corrupt (bad checksum) or truncated entry is parsed again, and mended.
        let sealed = CPUMapCache.sealed(doctored)
        for broken in [Array(sealed.dropLast(3)) + Array("00\n".utf8), Array(sealed.prefix(sealed.count / 2)), []] {
            write(String(decoding: broken, as: UTF8.self), to: entry)
            let again = try CPUMap(contentsOf: folder, usingSnapshots: true, cache: cache)
            #expect(again.libvirtVersion == nil)
            #expect(again.architectures == parsed.architectures)
        }
        // An entry for another folder (stale: its fingerprint line differs) is not used.
        let other = try CPUMap.builtIn(release: "11.3")
        write(String(decoding: CPUMapCache.sealed(other.snapshot(libvirtVersion: "stale", provenance: nil)), as: UTF8.self),
              to: entry)
        #expect(try CPUMap(contentsOf: folder, usingSnapshots: true, cache: cache).libvirtVersion == nil)

        // An entry others could have written (group- or world-writable) is not trusted.
        write(String(decoding: CPUMapCache.sealed(doctored), as: UTF8.self), to: entry)
        try #require(chmod(entry, 0o666) == 0)
        #expect(try CPUMap(contentsOf: folder, usingSnapshots: true, cache: cache).libvirtVersion == nil)
        write(String(decoding: CPUMapCache.sealed(doctored), as: UTF8.self), to: entry)
        try #require(chmod(entry, 0o600) == 0)
        #expect(try CPUMap(contentsOf: folder, usingSnapshots: true, cache: cache).libvirtVersion == "doctored")

        // An unusable cache folder (a file stands where it should be) is no error.
        let blocked = CPUMapCache(folder: folder + "/index.xml/cpucompat")
        #expect(try CPUMap(contentsOf: folder, usingSnapshots: true, cache: blocked).architectures == parsed.architectures)
    }

    @Test(.enabled(if: oracleMapInstalled("9.0"), "libvirt 9.0's map (../shared/oracles/provision) is not installed: SKIPPED"))
    func aFolderFingerprintComesFromItsStampsUntilAFileChanges() throws {
        let folder = makeScratchDirectory()
        let cacheRoot = makeScratchDirectory()
        defer { removeTree(folder); removeTree(cacheRoot) }
        let source = oracleMap("9.0")
        let names = try FileSystem.contents(ofDirectory: source).filter { $0.hasSuffix(".xml") }
        for name in names { write(String(decoding: try FileSystem.read(source + "/" + name), as: UTF8.self), to: folder + "/" + name) }
        let fromContent = try CPUMap.fingerprint(ofFolder: folder)
        #expect(fromContent == BuiltInCPUMap.named("9.0")?.fingerprint)

        // Files changed a moment ago are not recorded: an edit in the same clock tick could pass unseen.
        let waiting = CPUMapCache(folder: cacheRoot + "/cpucompat", settlingTime: 3600)
        #expect(try CPUMap.fingerprint(ofFolder: folder, cache: waiting) == fromContent)
        let entry = try #require(waiting.entry(forStampsOf: folder))
        #expect(!FileSystem.exists(entry))

        // Settled files are recorded, and the record is used while the stamps match:
        // a doctored record (with a sound checksum) is believed, which shows that nothing was read.
        let cache = CPUMapCache(folder: cacheRoot + "/cpucompat", settlingTime: 0)
        #expect(try CPUMap.fingerprint(ofFolder: folder, cache: cache) == fromContent)
        #expect(FileSystem.exists(entry))
        let stamps = try #require(CPUMapCache.FolderStamps(folder: folder, names: names, settlingTime: 0))
        write(String(decoding: CPUMapCache.sealed(stamps.record("doctored")), as: UTF8.self), to: entry)
        #expect(try CPUMap.fingerprint(ofFolder: folder, cache: cache) == "doctored")
        // Never for the exporter, which reads the files whatever the cache holds.
        #expect(try CPUMap(contentsOf: folder, usingSnapshots: false, cache: cache).folderFingerprint == fromContent)

        // An edit in place that keeps the size (and the inode) changes the stamps: the files are read again.
        let vendors = folder + "/x86_vendors.xml"
        let text = String(decoding: try FileSystem.read(vendors), as: UTF8.self)
        write(text.replacingAll("GenuineIntel", with: "GenuineIntex"), to: vendors)
        var times = [timespec(tv_sec: 1_000_000_000, tv_nsec: 0), timespec(tv_sec: 1_000_000_000, tv_nsec: 0)]
        try #require(utimensat(AT_FDCWD, vendors, &times, 0) == 0)
        let edited = try CPUMap.fingerprint(ofFolder: folder)
        #expect(edited != fromContent)
        #expect(try CPUMap.fingerprint(ofFolder: folder, cache: cache) == edited)
        #expect(try CPUMap(contentsOf: folder, usingSnapshots: true, cache: cache).x86?.vendor(named: "Intel")?.string == "GenuineIntex",
                "an edited installed map is read as it now is, not taken for the built-in one")

        // A record others could have written is not trusted, and is replaced by a sound one.
        let now = try #require(CPUMapCache.FolderStamps(folder: folder, names: names, settlingTime: 0))
        write(String(decoding: CPUMapCache.sealed(now.record("doctored")), as: UTF8.self), to: entry)
        try #require(chmod(entry, 0o666) == 0)
        #expect(try CPUMap.fingerprint(ofFolder: folder, cache: cache) == edited)
        #expect(try FileSystem.read(entry) == CPUMapCache.sealed(now.record(edited)))
        var status = stat()
        #expect(stat(entry, &status) == 0 && status.st_mode & 0o777 == 0o600)
    }

    @Test func snapshotRoundTrips() throws {
        let map = FileSystem.exists(TestPaths.masterMap + "/index.xml")
            ? try CPUMap(contentsOf: TestPaths.masterMap) : try CPUMap.builtIn()
        let text = map.snapshot(libvirtVersion: "x", provenance: "test map")
        let again = try CPUMap(snapshot: text, origin: .legacyFile("test"))
        #expect(again.architectures == map.architectures)
        #expect(again.snapshot(libvirtVersion: "x", provenance: "test map") == text)
        #expect(again.provenance == "test map")
    }

    @Test func aSnapshotNamingFeaturesItLacksIsRefusedNotACrash() throws {
        for model in ["model Old vendor=Intel decode=host,guest features=1 retired=7",
                      "model Old vendor=Intel decode=host,guest features=ff0",
                      "model Old vendor=Intel decode=host,guest features=1 retired=99999999999"] {
            let text = "cpucompat-cpu-map 2\narch x86\nvendor Intel string=GenuineIntel\nfeature fpu cpuid=1/-/edx/1\n" + model + "\n"
            let error = #expect(throws: CPUCompatError.self) { try CPUMap(snapshot: text, origin: .legacyFile("bad")) }
            #expect(error?.description == "bad:5: unreadable snapshot line", "\(model)")
        }
    }

    @Test func version1SnapshotsStillLoad() throws {
        // Version 1 stored retired features as a set of hexadecimal words.
        let text = """
            cpucompat-cpu-map 1
            arch x86
            vendor Intel string=GenuineIntel
            feature fpu cpuid=1/-/edx/1
            feature mpx cpuid=7/0/ebx/4000
            feature vme cpuid=1/-/edx/2
            model Old vendor=Intel decode=host,guest features=5 removed=2

            """
        let x86 = try #require(try CPUMap(snapshot: text, origin: .legacyFile("v1")).x86)
        let model = try #require(x86.model(named: "Old"))
        #expect(x86.names(of: model.features) == ["fpu", "vme"])
        #expect(model.retiredFeatureOrder == [1])
    }

    @Test(arguments: BuiltInCPUMap.all)
    func everyBuiltInMapReadsBackToItsOwnSnapshot(builtIn: BuiltInCPUMap) throws {
        let map = try builtIn.load()
        // The generated literal ends without the snapshot's last line break.
        #expect(map.snapshot(libvirtVersion: builtIn.libvirtVersion, provenance: builtIn.provenance) == builtIn.snapshot + "\n")
    }

    @Test func anUnreadableAttributeIsRefusedNamingItsLine() throws {
        for line in ["feature fpu cpuid=1/-/exx/1", "feature fpu cpuid=1/-/edx", "feature fpu cpuid=123456789/-/edx/1",
                     "feature fpu msr=1/2", "feature fpu msr=1/2/3/4", "feature fpu alias=x", "feature fpu colour=red",
                     "model M decode=- features=1 sig=6/x", "model M decode=- features=1 sig=6/94/7-5",
                     "model M decode=- features=1 sig=6/94/5-7/1", "model M decode=- features=1 retired=+0",
                     "model M decode=-", "vendor"] {
            let text = "cpucompat-cpu-map 2\narch x86\nfeature fpu cpuid=1/-/edx/1\n" + line + "\n"
            let error = #expect(throws: CPUCompatError.self) { try CPUMap(snapshot: text, origin: .legacyFile("bad")) }
            #expect(error?.description == "bad:4: unreadable snapshot line", "\(line)")
        }
    }

    @Test func aRepeatedNameFindsItsFirstDefinition() throws {
        let text = """
            cpucompat-cpu-map 2
            arch x86
            feature a alias=b/- cpuid=1/-/edx/1
            feature c alias=b/qemu alias=a/- cpuid=1/-/edx/2
            model M decode=host features=1
            model M decode=guest features=2

            """
        let x86 = try #require(try CPUMap(snapshot: text, origin: .legacyFile("repeats")).x86)
        #expect(x86.feature(named: "b")?.name == "a", "the first feature with an alias has it")
        #expect(x86.feature(named: "a")?.name == "a", "a name wins over another feature's alias")
        #expect(x86.model(named: "M")?.index == 0)
    }
}

@Suite struct MapSemanticsTests {
    /// A small map folder with a base model, a version of it and the two
    /// attributes of newer maps, `added='yes'` and `removed='yes'`.
    private func makeFolder() -> String {
        let folder = makeScratchDirectory()
        write("""
            <cpus>
              <arch name='x86'>
                <include filename='x86_vendors.xml'/>
                <include filename='x86_features.xml'/>
                <include filename='x86_Base.xml'/>
                <include filename='x86_Base-v2.xml'/>
              </arch>
            </cpus>
            """, to: folder + "/index.xml")
        write("<cpus><vendor name='Intel' string='GenuineIntel'/></cpus>", to: folder + "/x86_vendors.xml")
        write("""
            <cpus>
              <feature name='fpu'><cpuid eax_in='0x01' edx='0x00000001'/></feature>
              <feature name='vme'><cpuid eax_in='0x01' edx='0x00000002'/></feature>
              <feature name='de'><cpuid eax_in='0x01' edx='0x00000004'/></feature>
              <feature name='pse'><cpuid eax_in='0x01' edx='0x00000008'/></feature>
              <feature name='tsc'><cpuid eax_in='0x01' edx='0x00000010'/></feature>
            </cpus>
            """, to: folder + "/x86_features.xml")
        write("""
            <cpus>
              <model name='Base'>
                <vendor name='Intel'/>
                <feature name='fpu'/>
                <feature name='tsc' removed='yes'/>
                <feature name='vme'/>
                <feature name='de' removed='yes'/>
                <feature name='pse' added='yes'/>
              </model>
            </cpus>
            """, to: folder + "/x86_Base.xml")
        write("""
            <cpus>
              <model name='Base-v2'>
                <decode host='on' guest='off'/>
                <model name='Base'/>
              </model>
            </cpus>
            """, to: folder + "/x86_Base-v2.xml")
        return folder
    }

    @Test func addedFeaturesBelongToNeitherTheModelNorItsVersions() throws {
        let folder = makeFolder()
        defer { removeTree(folder) }
        let x86 = try #require(try CPUMap(contentsOf: folder, usingSnapshots: false).x86)
        for name in ["Base", "Base-v2"] {
            let model = try #require(x86.model(named: name))
            #expect(x86.names(of: model.features) == ["fpu", "vme"], "\(name)")
        }
    }

    @Test func retiredFeaturesKeepTheirListingOrder() throws {
        let folder = makeFolder()
        defer { removeTree(folder) }
        let map = try CPUMap(contentsOf: folder, usingSnapshots: false)
        let x86 = try #require(map.x86)
        for name in ["Base", "Base-v2"] {
            let model = try #require(x86.model(named: name))
            #expect(model.retiredFeatureOrder.map { x86.features[$0].name } == ["tsc", "de"], "\(name)")
        }
        // The snapshot keeps the order too.
        let again = try #require(try CPUMap(snapshot: map.snapshot(libvirtVersion: nil, provenance: nil),
                                            origin: .legacyFile("s")).x86)
        #expect(again.model(named: "Base")?.retiredFeatureOrder == x86.model(named: "Base")?.retiredFeatureOrder)
    }
}
