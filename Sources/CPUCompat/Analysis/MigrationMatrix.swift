/// Which hosts can take each other's host-model guests, for a whole fleet.
///
/// A host-model guest started on A gets A's features; it can live-migrate
/// to B when A's features ⊆ B's. Hosts with identical feature sets (and
/// vendor) form one group, so a fleet of thousands reads as a handful of rows.
///
/// The matrix keeps each group's features as a set and names features only
/// when asked, so its size grows with groups × features, never with the
/// groups² pairs: a pair is computed when it is read (``pair(from:to:)``,
/// ``forEachPair(_:)``), and ``summary`` condenses all of them.
public struct MigrationMatrix: Hashable, Sendable, Codable {
    /// Hosts with identical CPU features.
    public struct Group: Hashable, Sendable, Codable {
        /// `G1`, `G2`, … in order of first appearance.
        public var name: String
        /// The hosts' files, in input order.
        public var hosts: [String]
        /// The model the first host's file names.
        public var model: String?
        /// The vendor of the group's CPUs: the first host's `<vendor>`, else its model's.
        public var vendor: String?
        /// The x86-64 level of the group's features.
        public var level: MicroarchitectureLevel?
        /// How many features the group's CPUs have.
        public var featureCount: Int
        /// What the group's guests would lose under the cluster baseline, in
        /// map order; empty when there is no baseline.
        public var lostUnderBaseline: [String]
    }

    /// Whether host-model guests of one group can move to another.
    public struct Pair: Hashable, Sendable, Codable {
        /// The name of the group the guest starts on.
        public var from: String
        /// The name of the group it would move to.
        public var to: String
        /// Whether a host-model guest started on `from` can move to `to`.
        public var canMigrate: Bool
        /// The features `from`'s CPUs have and `to`'s lack, in map order (empty when ``canMigrate``).
        public var missing: [String]
    }

    /// All pairs condensed: how many are blocked, which groups are the most
    /// confined, and which features block the most pairs.
    public struct Summary: Hashable, Sendable, Codable {
        /// A group and how many other groups it reaches (or is reached from).
        public struct Reach: Hashable, Sendable, Codable {
            /// The group's name.
            public var group: String
            /// How many other groups can take its guests (in
            /// ``Summary/fewestDestinations``), or whose guests it can take
            /// (in ``Summary/fewestOrigins``).
            public var groups: Int
        }

        /// A feature and in how many ordered pairs of groups the destination lacks it.
        public struct Blocker: Hashable, Sendable, Codable {
            /// The feature's name.
            public var feature: String
            /// The ordered pairs whose origin has the feature and whose
            /// destination lacks it: (groups with it) × (groups without it).
            public var pairs: Int
        }

        /// Ordered pairs of different groups: n × (n − 1).
        public var pairs: Int
        /// Those across which a host-model guest cannot move.
        public var blockedPairs: Int
        /// The groups whose guests can go to the fewest other groups, fewest
        /// first, ties in group order: at most ten, and only groups that
        /// cannot reach every other group.
        public var fewestDestinations: [Reach]
        /// The groups that can take guests from the fewest other groups,
        /// fewest first, ties in group order: at most ten, and only groups
        /// that cannot take every other group's guests.
        public var fewestOrigins: [Reach]
        /// The features missing in the most pairs, most first, ties by name (at most ten).
        public var blockingFeatures: [Blocker]
    }

    /// The groups, in order of first appearance.
    public var groups: [Group]
    /// All pairs condensed.
    public var summary: Summary
    /// The baseline of all hosts, if there is one.
    public var baseline: Baseline?
    /// Why there is no baseline: the description of the error the baseline
    /// threw; nil when there is one.
    public var baselineError: String?
    /// Whether every host can take every other host's host-model guests
    /// (what `matrix --check` answers with its exit status).
    public var everyHostCanTakeEveryOthersGuests: Bool

    /// Each group's features, in `groups` order.
    private var groupFeatures: [FeatureSet]
    /// The names of the map's features, by index, to name what a pair misses.
    private var featureNames: [String]

    private enum CodingKeys: String, CodingKey {
        case groups, summary, baseline, baselineError, everyHostCanTakeEveryOthersGuests
    }

    /// Decodes a matrix's groups, summary and baseline. The groups' features
    /// are not encoded, so the result cannot compute pairs (``hasFeatures`` is false).
    ///
    /// - Parameter decoder: The decoder to read from.
    /// - Throws: `DecodingError` when a field is missing or of the wrong type.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        groups = try container.decode([Group].self, forKey: .groups)
        summary = try container.decode(Summary.self, forKey: .summary)
        baseline = try container.decodeIfPresent(Baseline.self, forKey: .baseline)
        baselineError = try container.decodeIfPresent(String.self, forKey: .baselineError)
        everyHostCanTakeEveryOthersGuests = try container.decode(Bool.self, forKey: .everyHostCanTakeEveryOthersGuests)
        groupFeatures = []
        featureNames = []
    }

    init(groups: [Group], groupFeatures: [FeatureSet], featureNames: [String], baseline: Baseline?, baselineError: String?) {
        self.groups = groups
        self.groupFeatures = groupFeatures
        self.featureNames = featureNames
        self.baseline = baseline
        self.baselineError = baselineError
        (summary, everyHostCanTakeEveryOthersGuests) = Self.summarise(groups: groups, features: groupFeatures, names: featureNames)
    }

    /// Whether the pairs can be computed: false for a matrix decoded from JSON,
    /// which holds the groups and the summary only.
    public var hasFeatures: Bool { groupFeatures.count == groups.count }

    /// The pair from one group to another, computed now.
    ///
    /// - Parameters:
    ///   - from: The name of the group a guest starts on (`G1`).
    ///   - to: The name of the group it would move to.
    /// - Returns: The pair; nil for the same group, an unknown name, or a
    ///   matrix decoded from JSON (see ``hasFeatures``).
    public func pair(from: String, to: String) -> Pair? {
        guard let i = groups.firstIndex(where: { $0.name == from }),
              let j = groups.firstIndex(where: { $0.name == to }) else { return nil }
        return pair(at: i, j)
    }

    /// The pair from the `i`th group to the `j`th, or nil when `i == j`.
    func pair(at i: Int, _ j: Int) -> Pair? {
        guard i != j, hasFeatures else { return nil }
        let missing = groupFeatures[i].subtracting(groupFeatures[j])
        return Pair(from: groups[i].name, to: groups[j].name, canMigrate: missing.isEmpty,
                    missing: missing.map { featureNames[$0] })
    }

    /// Calls `body` with every ordered pair of different groups, row by row
    /// (all pairs from `G1`, then from `G2`, …), computing each when it is
    /// needed; none for a matrix decoded from JSON.
    ///
    /// - Parameter body: Called once a pair.
    /// - Throws: What `body` throws; the pairs after it are not visited.
    public func forEachPair(_ body: (Pair) throws -> Void) rethrows {
        for i in groups.indices {
            for j in groups.indices where i != j {
                if let pair = pair(at: i, j) { try body(pair) }
            }
        }
    }

    /// Every ordered pair of different groups, row by row: n × (n − 1) of
    /// them, so for a large fleet prefer ``forEachPair(_:)`` or ``summary``;
    /// empty for a matrix decoded from JSON.
    public var pairs: [Pair] {
        var pairs: [Pair] = []
        pairs.reserveCapacity(hasFeatures ? groups.count * max(0, groups.count - 1) : 0)
        forEachPair { pairs.append($0) }
        return pairs
    }

    /// The summary, from one pass over the pairs as bit sets: a subset test
    /// per pair, and per feature the closed form (groups that have it) ×
    /// (groups that lack it).
    private static func summarise(groups: [Group], features: [FeatureSet], names: [String])
        -> (Summary, everyPairMigrates: Bool) {
        let count = groups.count
        let stride = features.map(\.wordCount).max() ?? 0
        var words = [UInt64](repeating: 0, count: count * stride)
        for (index, set) in features.enumerated() { set.copyWords(into: &words, at: index * stride) }
        var destinations = [Int](repeating: 0, count: count)
        var origins = [Int](repeating: 0, count: count)
        var blocked = 0
        words.withUnsafeBufferPointer { buffer in
            for i in 0..<count {
                let from = i * stride
                for j in 0..<count where i != j {
                    let to = j * stride
                    var fits = true
                    for word in 0..<stride where buffer[from + word] & ~buffer[to + word] != 0 {
                        fits = false
                        break
                    }
                    if fits {
                        destinations[i] += 1
                        origins[j] += 1
                    } else {
                        blocked += 1
                    }
                }
            }
        }
        var holders: [Int: Int] = [:]
        for set in features { for feature in set { holders[feature, default: 0] += 1 } }
        let blockers = holders.map { Summary.Blocker(feature: names[$0.key], pairs: $0.value * (count - $0.value)) }
            .filter { $0.pairs > 0 }
            .sorted { ($0.pairs, $1.feature) > ($1.pairs, $0.feature) }
        func fewest(_ reach: [Int]) -> [Summary.Reach] {
            reach.indices.filter { reach[$0] < count - 1 }.sorted { (reach[$0], $0) < (reach[$1], $1) }.prefix(10)
                .map { Summary.Reach(group: groups[$0].name, groups: reach[$0]) }
        }
        let summary = Summary(pairs: count * max(0, count - 1), blockedPairs: blocked, fewestDestinations: fewest(destinations),
                              fewestOrigins: fewest(origins), blockingFeatures: Array(blockers.prefix(10)))
        return (summary, blocked == 0)
    }
}

extension CPUArchitecture {
    /// The migration matrix of `hosts`; see ``MigrationMatrix``.
    ///
    /// - Parameter hosts: Host CPUs of this architecture; groups are named in
    ///   the order of their first host (`G1` is the first host's group).
    /// - Returns: The groups, the summary of all pairs, and the hosts'
    ///   baseline or why there is none.
    public func migrationMatrix(of hosts: [CPU]) -> MigrationMatrix {
        struct Key: Hashable { var features: FeatureSet; var vendor: String? }
        var groupIndex: [Key: Int] = [:]
        var members: [[CPU]] = []
        for host in hosts {
            let key = Key(features: host.features, vendor: host.vendor?.name ?? host.model?.vendor)
            if let index = groupIndex[key] {
                members[index].append(host)
            } else {
                groupIndex[key] = members.count
                members.append([host])
            }
        }
        var computed: (baseline: Baseline, common: FeatureSet)?
        var baselineError: String?
        do { computed = try baselineAndCommonFeatures(of: hosts) } catch { baselineError = error.description }

        let groups = members.enumerated().map { index, cpus in
            MigrationMatrix.Group(
                name: "G\(index + 1)", hosts: cpus.map(\.definition.path), model: cpus[0].model?.name,
                vendor: cpus[0].vendor?.name ?? cpus[0].model?.vendor, level: level(of: cpus[0].features),
                featureCount: cpus[0].features.count,
                lostUnderBaseline: computed.map { names(of: cpus[0].features.subtracting($0.common)) } ?? [])
        }
        return MigrationMatrix(groups: groups, groupFeatures: members.map { $0[0].features }, featureNames: features.map(\.name),
                               baseline: computed?.baseline, baselineError: baselineError)
    }
}
