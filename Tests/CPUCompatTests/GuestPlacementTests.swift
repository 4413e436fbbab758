import Testing
@testable import CPUCompat

// Tests of `placements(of:on:runningOn:strategy:)` (cpucompat guests) on the
// fixture hosts: kvm02 (a Haswell) and kvm03 (an Ivy Bridge). The expected
// blockers are the nine features of the brief's libvirt refusal, written
// down from that message, and sets computed here from the map's models and
// the hosts' features, not from the code under test.

/// The features libvirt named when it refused to move a kvm02 guest to kvm03
/// (the story this tool starts from).
private let storyMissing: Set<String> = ["vmx", "fma", "movbe", "bmi1", "avx2", "bmi2", "invpcid", "pdpe1gb", "abm"]

private struct FixtureFleet {
    let map: CPUMap
    let kvm02: CPU
    let kvm03: CPU
    let architecture: CPUArchitecture

    init() throws {
        map = try CPUMap.resolve(explicitPath: "built-in")
        kvm02 = try map.readSingleHostCPU(contentsOf: TestPaths.fixture("kvm02.xml"))
        kvm03 = try map.readSingleHostCPU(contentsOf: TestPaths.fixture("kvm03.xml"))
        architecture = try map.x86Architecture(for: [kvm02, kvm03])
    }

    func place(_ guests: [String], runningOn: CPU? = nil, strategy: PatchStrategy = .model) throws -> GuestFleetReport {
        let cpus = try guests.map { try map.readGuestCPU(contentsOf: TestPaths.fixture($0)) }
        return try architecture.placements(of: cpus, on: [kvm02, kvm03], runningOn: runningOn, strategy: strategy)
    }

    /// Whether `names` are in the map's feature order (libvirt's).
    func inMapOrder(_ names: [String]) -> Bool {
        let indices = names.compactMap { architecture.feature(named: $0)?.index }
        return indices.count == names.count && indices == indices.sorted()
    }
}

@Suite struct GuestPlacementTests {
    @Test func aHostModelGuestStartsAnywhereAndCannotLeaveTheNewerHost() throws {
        let fleet = try FixtureFleet()
        let report = try fleet.place(["guest01.xml"])
        let guest = try #require(report.guests.first)
        #expect(guest.mode == "host-model")
        #expect(guest.cannotStart.isEmpty)
        #expect(guest.startsOn == [TestPaths.fixture("kvm02.xml"), TestPaths.fixture("kvm03.xml")])
        #expect(guest.migrations.count == 2)
        let fromKVM02 = try #require(guest.migrations.first { $0.from == [TestPaths.fixture("kvm02.xml")] })
        #expect(fromKVM02.to == [TestPaths.fixture("kvm02.xml")])
        let blocked = try #require(fromKVM02.blocked.first)
        #expect(fromKVM02.blocked.count == 1)
        #expect(blocked.hosts == [TestPaths.fixture("kvm03.xml")])
        #expect(Set(blocked.missingFeatures) == storyMissing)
        #expect(fleet.inMapOrder(blocked.missingFeatures))
        #expect(blocked.message.hasPrefix("guest CPU doesn't match specification: missing features: "))
        let fromKVM03 = try #require(guest.migrations.first { $0.from == [TestPaths.fixture("kvm03.xml")] })
        #expect(fromKVM03.blocked.isEmpty)
        #expect(fromKVM03.to.count == 2)
        #expect(!guest.canGoEverywhere)
        #expect(!report.everyGuestCanGoEverywhere)
    }

    @Test func theFixIsThePlanPatchWouldWrite() throws {
        let fleet = try FixtureFleet()
        for strategy in PatchStrategy.allCases {
            let report = try fleet.place(["guest01.xml"], strategy: strategy)
            let expected = try fleet.architecture.guestPlan(for: [fleet.kvm02, fleet.kvm03], strategy: strategy)
            #expect(report.guests.first?.fix == expected)
            #expect(report.strategy == strategy)
        }
        // The model fix names the model both hosts' baseline names.
        let baseline = try fleet.architecture.baseline(of: [fleet.kvm02, fleet.kvm03])
        #expect(try fleet.place(["guest01.xml"]).guests.first?.fix?.model == baseline.model)
    }

    @Test func runningOnTheOlderHostItCanGoEverywhere() throws {
        let fleet = try FixtureFleet()
        let report = try fleet.place(["guest01.xml"], runningOn: fleet.kvm03)
        let guest = try #require(report.guests.first)
        #expect(guest.runningOn == TestPaths.fixture("kvm03.xml"))
        #expect(guest.migrations.count == 1)
        #expect(guest.migrations.first?.blocked == [])
        #expect(guest.canGoEverywhere)
        #expect(guest.fix == nil)
        #expect(report.everyGuestCanGoEverywhere)
        let fromNewer = try #require(try fleet.place(["guest01.xml"], runningOn: fleet.kvm02).guests.first)
        #expect(!fromNewer.canGoEverywhere)
        #expect(Set(fromNewer.migrations.first?.blocked.first?.missingFeatures ?? []) == storyMissing)
    }

    @Test func aCustomGuestRunsWhereItsModelAndFeaturesAre() throws {
        let fleet = try FixtureFleet()
        let path = "domains/web01-custom-numa.xml"
        let guest = try #require(try fleet.place([path]).guests.first)
        // What the guest needs, from the map's model and the domain's own features.
        let cpu = try fleet.map.readGuestCPU(contentsOf: TestPaths.fixture(path)).cpu
        let model = try #require(fleet.architecture.model(named: "Haswell-noTSX-IBRS"))
        var needed = model.features
        for feature in cpu.definition.features {
            guard let index = fleet.architecture.feature(named: feature.name)?.index else { continue }
            if feature.policy == .disable || feature.policy == .forbid { needed.remove(index) } else { needed.insert(index) }
        }
        #expect(needed.isSubset(of: fleet.kvm02.features))
        let lacking = fleet.architecture.names(of: needed.subtracting(fleet.kvm03.features))
        #expect(!lacking.isEmpty)
        #expect(guest.mode == "custom")
        #expect(guest.model == "Haswell-noTSX-IBRS")
        #expect(guest.startsOn == [TestPaths.fixture("kvm02.xml")])
        #expect(guest.cannotStart.map(\.hosts) == [[TestPaths.fixture("kvm03.xml")]])
        #expect(guest.cannotStart.first?.missingFeatures == lacking)
        #expect(guest.migrations.isEmpty)
        #expect(!guest.canGoEverywhere)
    }

    @Test func aLiveGuestsExpandedHostModelIsACPUOfItsOwn() throws {
        let fleet = try FixtureFleet()
        let report = try fleet.place(["live/guest01-on-kvm02.xml", "live/web03-on-kvm03.xml"])
        let onNewer = report.guests[0], onOlder = report.guests[1]
        #expect(onNewer.model == "Haswell-noTSX-IBRS")
        #expect(onNewer.migrations.isEmpty)
        #expect(onNewer.startsOn == [TestPaths.fixture("kvm02.xml")])
        #expect(Set(onNewer.cannotStart.first?.missingFeatures ?? []) == storyMissing)
        #expect(onOlder.model == "IvyBridge-IBRS")
        #expect(onOlder.cannotStart.isEmpty)
        #expect(onOlder.canGoEverywhere)
    }

    @Test func aDomainWithoutCPUIsNotCompared() throws {
        let fleet = try FixtureFleet()
        for path in ["domains/legacy02-nocpu.xml", "domains/appliance03-nocpu-nofeatures.xml"] {
            let guest = try #require(try fleet.place([path]).guests.first)
            #expect(guest.mode == "none")
            #expect(guest.model == nil)
            #expect(guest.note?.contains("qemu64") == true)
            #expect(guest.startsOn.count == 2)
            #expect(guest.canGoEverywhere)
        }
    }

    @Test func identicalHostsAreOneGroupAndHostsInOneFileAreNamedByLine() throws {
        let fleet = try FixtureFleet()
        let folder = makeScratchDirectory()
        defer { removeTree(folder) }
        let kvm02 = String(decoding: try FileSystem.read(TestPaths.fixture("kvm02.xml")), as: UTF8.self)
        let kvm03 = String(decoding: try FileSystem.read(TestPaths.fixture("kvm03.xml")), as: UTF8.self)
        write(kvm02, to: folder + "/a.xml")
        write(kvm02 + kvm03, to: folder + "/b.xml")
        let hosts = try fleet.map.readHosts([folder])
        #expect(hosts.count == 3)
        let guest = try fleet.map.readGuestCPU(contentsOf: TestPaths.fixture("guest01.xml"))
        let report = try fleet.architecture.placements(of: [guest], on: hosts, strategy: .model)
        #expect(report.hosts.count == 3)
        #expect(report.hosts[0] == folder + "/a.xml")
        #expect(report.hosts[1].hasPrefix(folder + "/b.xml:"))
        #expect(report.hosts[2].hasPrefix(folder + "/b.xml:"))
        #expect(report.hosts[1] != report.hosts[2])
        let migrations = try #require(report.guests.first?.migrations)
        #expect(migrations.map(\.from) == [[report.hosts[0], report.hosts[1]], [report.hosts[2]]])
        #expect(migrations[0].blocked.map(\.hosts) == [[report.hosts[2]]])
    }

    @Test func aHostModelGuestGetsNeitherInvtscNorHostOnlyFeatures() throws {
        // libvirt's host-model leaves out migratable='no' features (invtsc): a host without
        // it still takes the guest. The guest's own require features are needed on top.
        let fleet = try FixtureFleet()
        let folder = makeScratchDirectory()
        defer { removeTree(folder) }
        let kvm02 = String(decoding: try FileSystem.read(TestPaths.fixture("kvm02.xml")), as: UTF8.self)
        let withoutInvtsc = kvm02.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.contains("name='invtsc'") }.joined(separator: "\n")
        #expect(withoutInvtsc != kvm02)
        write(withoutInvtsc, to: folder + "/kvm02-noinvtsc.xml")
        let hosts = [fleet.kvm02, try fleet.map.readSingleHostCPU(contentsOf: folder + "/kvm02-noinvtsc.xml")]
        let guest = try fleet.map.readGuestCPU(contentsOf: TestPaths.fixture("guest01.xml"))
        #expect(try fleet.architecture.placements(of: [guest], on: hosts, strategy: .model).everyGuestCanGoEverywhere)
        write("<domain type='kvm'><name>r</name><cpu mode='host-model'><feature policy='require' name='avx512f'/></cpu></domain>",
              to: folder + "/require.xml")
        let requiring = try fleet.map.readGuestCPU(contentsOf: folder + "/require.xml")
        let placed = try #require(try fleet.architecture.placements(of: [requiring], on: hosts, strategy: .model).guests.first)
        #expect(placed.cannotStart.first?.missingFeatures == ["avx512f"])
    }

    @Test func aHostFileIsNotAGuest() throws {
        let fleet = try FixtureFleet()
        #expect(throws: CPUCompatError.invalidCPU(
            path: TestPaths.fixture("kvm02.xml"), line: 1,
            message: "is not a domain definition: a guest is a domain XML (virsh dumpxml, /etc/libvirt/qemu/NAME.xml)")) {
            try fleet.map.readGuestCPU(contentsOf: TestPaths.fixture("kvm02.xml"))
        }
    }

    @Test func patchedCopiesKeepEveryByteOutsideTheCPUAndLeaveTheGuestsAlone() throws {
        let fleet = try FixtureFleet()
        let folder = makeScratchDirectory()
        defer { removeTree(folder) }
        let guests = ["guest01.xml", "domains/web01-custom-numa.xml", "domains/legacy02-nocpu.xml"]
        let before = try guests.map { try FileSystem.read(TestPaths.fixture($0)) }
        let report = try fleet.place(guests)
        let copies = try report.writePatchedCopies(into: folder + "/patched", architecture: fleet.architecture, map: fleet.map)
        // The domain without <cpu> can go everywhere: no copy.
        #expect(copies.map(\.copy) == [folder + "/patched/guest01.xml", folder + "/patched/web01-custom-numa.xml"])
        for (index, guest) in guests.enumerated() { #expect(try FileSystem.read(TestPaths.fixture(guest)) == before[index]) }
        for (index, copy) in copies.enumerated() {
            let original = before[index], patched = try FileSystem.read(copy.copy)
            let start = try #require(firstRange(of: Array("<cpu ".utf8), in: original))
            #expect(Array(patched[..<start]) == Array(original[..<start]))
            let end = try #require(endOfCPU(in: original))
            let patchedEnd = try #require(endOfCPU(in: patched))
            #expect(Array(patched[patchedEnd...]) == Array(original[end...]))
            // The copy reads back as the fix, and can go everywhere.
            let placed = try fleet.architecture.placements(of: [try fleet.map.readGuestCPU(contentsOf: copy.copy)],
                                                           on: [fleet.kvm02, fleet.kvm03], strategy: .model)
            #expect(placed.everyGuestCanGoEverywhere)
        }
    }

    @Test func patchedCopiesRefuseTheGuestsOwnFolderAndSharedNames() throws {
        let fleet = try FixtureFleet()
        let folder = makeScratchDirectory()
        defer { removeTree(folder) }
        let guest = folder + "/guest01.xml"
        let bytes = try FileSystem.read(TestPaths.fixture("guest01.xml"))
        try SafeFileUpdate.write(bytes, to: guest)
        let cpu = try fleet.map.readGuestCPU(contentsOf: guest)
        let report = try fleet.architecture.placements(of: [cpu], on: [fleet.kvm02, fleet.kvm03], strategy: .model)
        #expect(throws: CPUCompatError.unwritable(path: folder + "/guest01.xml",
                                                  reason: "is the guest itself: the patched copies go to another folder")) {
            try report.writePatchedCopies(into: folder, architecture: fleet.architecture, map: fleet.map)
        }
        #expect(try FileSystem.read(guest) == bytes)
        let twice = try fleet.architecture.placements(
            of: [cpu, try fleet.map.readGuestCPU(contentsOf: TestPaths.fixture("guest01.xml"))],
            on: [fleet.kvm02, fleet.kvm03], strategy: .model)
        #expect(throws: CPUCompatError.unwritable(
            path: folder + "/out", reason: "\(guest) and \(TestPaths.fixture("guest01.xml")) would both be copied as guest01.xml")) {
            try twice.writePatchedCopies(into: folder + "/out", architecture: fleet.architecture, map: fleet.map)
        }
        #expect(!FileSystem.exists(folder + "/out"))
    }
}

private func firstRange(of needle: [UInt8], in haystack: [UInt8]) -> Int? {
    guard haystack.count >= needle.count else { return nil }
    return (0...(haystack.count - needle.count)).first { Array(haystack[$0..<($0 + needle.count)]) == needle }
}

/// Where the text after a domain's `<cpu>` element starts: after `</cpu>`,
/// or after the `/>` of an empty `<cpu …/>`.
private func endOfCPU(in bytes: [UInt8]) -> Int? {
    if let close = firstRange(of: Array("</cpu>".utf8), in: bytes) { return close + 6 }
    guard let start = firstRange(of: Array("<cpu ".utf8), in: bytes),
          let end = firstRange(of: Array("/>".utf8), in: Array(bytes[start...])) else { return nil }
    return start + end + 2
}
