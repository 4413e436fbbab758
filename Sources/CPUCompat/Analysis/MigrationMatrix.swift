/// Which hosts can take each other's host-model guests, for a whole fleet.
///
/// A host-model guest started on A gets A's features; it can live-migrate
/// to B when A's features ⊆ B's. Hosts with identical feature sets (and
/// vendor) form one group, so a fleet of thousands reads as a handful of rows.
public struct MigrationMatrix: Hashable, Sendable, Codable {
    /// Hosts with identical CPU features.
    public struct Group: Hashable, Sendable, Codable {
        /// `G1`, `G2`, … in order of first appearance.
        public var name: String
        /// The hosts, in input order.
        public var hosts: [String]
        /// The model the first host's file names.
        public var model: String?
        public var vendor: String?
        public var level: MicroarchitectureLevel?
        /// How many features the group's CPUs have.
        public var featureCount: Int
        /// What the group's guests would lose under the cluster baseline, in map order.
        public var lostUnderBaseline: [String]
    }

    /// The relation between two different groups.
    public struct Pair: Hashable, Sendable, Codable {
        public var from: String
        public var to: String
        /// Whether a host-model guest started on `from` can move to `to`.
        public var canMigrate: Bool
        /// The features `to` lacks, in map order (empty when `canMigrate`).
        public var missing: [String]
    }

    /// The groups, in order of first appearance.
    public var groups: [Group]
    /// Every ordered pair of different groups.
    public var pairs: [Pair]
    /// The baseline of all hosts, if there is one.
    public var baseline: Baseline?
    /// Why there is no baseline.
    public var baselineError: String?
    /// Whether every host can take every other host's host-model guests
    /// (what `matrix --check` answers with its exit status).
    public var everyHostCanTakeEveryOthersGuests: Bool

    /// The pair from `from` to `to`, or nil for the same group.
    public func pair(from: String, to: String) -> Pair? {
        guard let i = groups.firstIndex(where: { $0.name == from }),
              let j = groups.firstIndex(where: { $0.name == to }) else { return nil }
        return pair(at: i, j)
    }

    /// The pair from the `i`th group to the `j`th, or nil when `i == j`
    /// (`pairs` holds every ordered pair row by row, without the diagonal).
    func pair(at i: Int, _ j: Int) -> Pair? {
        i == j ? nil : pairs[i * (groups.count - 1) + (j < i ? j : j - 1)]
    }
}

extension CPUArchitecture {
    /// The migration matrix of `hosts`; see `MigrationMatrix`.
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
        var baseline: Baseline?
        var baselineError: String?
        do { baseline = try self.baseline(of: hosts) } catch { baselineError = error.description }

        let groups = members.enumerated().map { index, cpus in
            MigrationMatrix.Group(
                name: "G\(index + 1)", hosts: cpus.map(\.definition.path), model: cpus[0].model?.name,
                vendor: cpus[0].vendor?.name ?? cpus[0].model?.vendor, level: level(of: cpus[0].features),
                featureCount: cpus[0].features.count,
                lostUnderBaseline: baseline.map { names(of: cpus[0].features.subtracting($0.features)) } ?? [])
        }
        var pairs: [MigrationMatrix.Pair] = []
        pairs.reserveCapacity(members.count * max(0, members.count - 1))
        for (i, from) in members.enumerated() {
            for (j, to) in members.enumerated() where i != j {
                let missing = from[0].features.subtracting(to[0].features)
                pairs.append(.init(from: groups[i].name, to: groups[j].name, canMigrate: missing.isEmpty, missing: names(of: missing)))
            }
        }
        return MigrationMatrix(groups: groups, pairs: pairs, baseline: baseline, baselineError: baselineError,
                               everyHostCanTakeEveryOthersGuests: pairs.allSatisfy(\.canMigrate))
    }
}
