import Testing
@testable import CPUCompat

// The matrix of a fleet with many distinct CPUs: its summary must agree with
// a brute-force count over every ordered pair of hosts' feature sets (each
// pair tested with FeatureSet.isSubset and subtracting, not the matrix's
// word table), and its pairs, computed when read, with diff.

private struct ManyGroupsFleet {
    let hosts: [CPU]
    let x86: CPUArchitecture

    /// `count` Skylake-Client hosts, each lacking three features of a pool of
    /// twelve, chosen by a seeded generator: up to 220 distinct CPUs.
    init(count: Int, seed: UInt64 = 0xC0FF_EE00_2026) throws {
        let map = try CPUMap.builtIn(release: "9.0")
        let skylake = try #require(map.x86?.model(named: "Skylake-Client"))
        let pool = ["avx2", "bmi1", "bmi2", "fma", "movbe", "rdrand", "rdseed", "adx", "smap", "smep", "xsavec", "3dnowprefetch"]
        var state = seed
        var hosts: [CPU] = []
        for index in 0..<count {
            var lacking = Set<String>()
            while lacking.count < 3 {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                lacking.insert(pool[Int(state >> 33) % pool.count])
            }
            let disables = lacking.sorted().map { "<feature policy='disable' name='\($0)'/>" }.joined()
            let xml = "<cpu><arch>x86_64</arch><model>Skylake-Client</model><vendor>Intel</vendor>\(disables)</cpu>"
            let definition = try #require(try CPUDefinitionReader.read(Array(xml.utf8), path: "host\(index).xml").first)
            hosts.append(try map.resolve(definition))
        }
        #expect(skylake.name == "Skylake-Client")
        self.hosts = hosts
        x86 = try map.x86Architecture(for: hosts)
    }
}

@Suite struct MatrixScaleTests {
    @Test func theSummaryAgreesWithABruteForceCountOverEveryPair() throws {
        let fleet = try ManyGroupsFleet(count: 400)
        let matrix = fleet.x86.migrationMatrix(of: fleet.hosts)
        let count = matrix.groups.count
        #expect(count > MigrationMatrix.detailedGroupLimit * 4, "many distinct CPUs: \(count) groups")

        // One feature set per group, from its first host's CPU.
        let byPath = Dictionary(uniqueKeysWithValues: fleet.hosts.map { ($0.definition.path, $0.features) })
        let sets = try matrix.groups.map { try #require(byPath[$0.hosts[0]]) }
        var blocked = 0
        var destinations = [Int](repeating: 0, count: count), origins = [Int](repeating: 0, count: count)
        var missingIn: [String: Int] = [:]
        for i in 0..<count {
            for j in 0..<count where i != j {
                if sets[i].isSubset(of: sets[j]) {
                    destinations[i] += 1
                    origins[j] += 1
                } else {
                    blocked += 1
                    for name in fleet.x86.names(of: sets[i].subtracting(sets[j])) { missingIn[name, default: 0] += 1 }
                }
            }
        }
        #expect(matrix.summary.pairs == count * (count - 1))
        #expect(matrix.summary.blockedPairs == blocked)
        #expect(matrix.everyHostCanTakeEveryOthersGuests == (blocked == 0))
        for reach in matrix.summary.fewestDestinations {
            let index = try #require(matrix.groups.firstIndex { $0.name == reach.group })
            #expect(reach.groups == destinations[index])
        }
        #expect(matrix.summary.fewestDestinations.first?.groups == destinations.filter { $0 < count - 1 }.min())
        for reach in matrix.summary.fewestOrigins {
            let index = try #require(matrix.groups.firstIndex { $0.name == reach.group })
            #expect(reach.groups == origins[index])
        }
        #expect(matrix.summary.fewestOrigins.first?.groups == origins.filter { $0 < count - 1 }.min())
        let expectedBlockers = missingIn.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.prefix(10)
        #expect(matrix.summary.blockingFeatures.map(\.feature) == expectedBlockers.map(\.key))
        #expect(matrix.summary.blockingFeatures.map(\.pairs) == expectedBlockers.map(\.value))
    }

    @Test func pairsComputedWhenReadAgreeWithDiff() throws {
        let fleet = try ManyGroupsFleet(count: 60)
        let matrix = fleet.x86.migrationMatrix(of: fleet.hosts)
        let first = Dictionary(uniqueKeysWithValues: matrix.groups.map { group in
            (group.name, fleet.hosts.first { $0.definition.path == group.hosts[0] }!)
        })
        var seen = 0
        matrix.forEachPair { pair in
            seen += 1
            guard let from = first[pair.from], let to = first[pair.to] else { return }
            #expect(pair.missing == fleet.x86.diff(from: from, to: to).missingOnDestination)
            #expect(pair.canMigrate == pair.missing.isEmpty)
        }
        #expect(seen == matrix.groups.count * (matrix.groups.count - 1))
        #expect(matrix.pairs.count == seen)
    }

    @Test func theTextOfManyGroupsIsASummaryThatFitsATerminal() throws {
        let fleet = try ManyGroupsFleet(count: 400)
        let matrix = fleet.x86.migrationMatrix(of: fleet.hosts)
        let lines = matrix.text.split(separator: "\n")
        #expect(lines.first == "400 hosts in \(matrix.groups.count) groups of identical CPU features; the largest:")
        #expect(lines.contains { $0.hasPrefix("host-model guests cannot migrate across \(grouped(matrix.summary.blockedPairs)) of ") })
        #expect(lines.contains("features missing in the most pairs:"))
        #expect(lines.count < 80, "a summary, not a \(matrix.groups.count)-column table: \(lines.count) lines")
        #expect(lines.allSatisfy { $0.count <= 100 })
    }

    @Test func decodedMatrixKeepsGroupsAndSummaryButComputesNoPairs() throws {
        let fleet = try ManyGroupsFleet(count: 30)
        let matrix = fleet.x86.migrationMatrix(of: fleet.hosts)
        #expect(matrix.hasFeatures)
        let json = try JSONValue(encoding: matrix)
        guard case let .object(members) = json else { Issue.record("not an object"); return }
        #expect(Set(members.keys) == ["groups", "summary", "baseline", "everyHostCanTakeEveryOthersGuests"])
    }
}
