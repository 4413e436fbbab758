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

@Suite struct BuiltInMapTests {
    @Test func builtInMapLoadsAndStatesItsOrigin() throws {
        let map = try CPUMap.builtIn()
        #expect(map.origin == .builtIn)
        #expect(map.libvirtVersion == "9.0.0")
        #expect(map.provenance?.contains("Debian 12") == true)
        #expect(map.x86?.model(named: "IvyBridge-IBRS") != nil)
    }

    @Test(.enabled(if: FileSystem.exists(TestPaths.systemMap + "/index.xml"),
                   "libvirt's cpu_map is not installed, so the built-in map cannot be compared with it"))
    func builtInMapEqualsTheInstalledMap() throws {
        // Parse the folder for real: the shortcut would hand back the built-in map itself.
        let installed = try CPUMap(contentsOf: TestPaths.systemMap, usingBuiltInWhenIdentical: false)
        let builtIn = try CPUMap.builtIn()
        #expect(builtIn.architectures == installed.architectures)
        #expect(builtIn.folderFingerprint == installed.folderFingerprint,
                "the installed map is the one the built-in map was made from")
    }

    @Test func aFolderThatDiffersFromTheBuiltInMapIsParsed() throws {
        let folder = makeScratchDirectory()
        defer { removeTree(folder) }
        let source = TestPaths.systemMap
        guard FileSystem.exists(source + "/index.xml") else { return }
        for name in try FileSystem.contents(ofDirectory: source) where name.hasSuffix(".xml") {
            var text = String(decoding: try FileSystem.read(source + "/" + name), as: UTF8.self)
            if name == "x86_vendors.xml" {
                text = text.replacingAll("</cpus>", with: "  <vendor name='Zhaoxin' string='CentaurHauls'/>\n</cpus>")
            }
            write(text, to: folder + "/" + name)
        }
        let changed = try CPUMap(contentsOf: folder)
        #expect(changed.x86?.vendor(named: "Zhaoxin") != nil, "an edited map must not be taken for the built-in one")
        #expect(changed.origin == .directory(folder))
        let identical = try CPUMap(contentsOf: source)
        #expect(identical.origin == .directory(source))
        #expect(identical.architectures == (try CPUMap.builtIn()).architectures)
    }

    @Test func snapshotRoundTrips() throws {
        let folder = makeScratchDirectory()
        defer { removeTree(folder) }
        let map = FileSystem.exists(TestPaths.masterMap + "/index.xml")
            ? try CPUMap(contentsOf: TestPaths.masterMap) : try CPUMap.builtIn()
        let text = map.snapshot(libvirtVersion: "x", provenance: "test map")
        let again = try CPUMap(snapshot: text)
        #expect(again.architectures == map.architectures)
        #expect(again.snapshot(libvirtVersion: "x", provenance: "test map") == text)
        #expect(again.provenance == "test map")
    }
}
