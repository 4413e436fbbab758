/// Which named models each host can run, and what blocks the others.
public struct ModelUsabilityReport: Hashable, Sendable, Codable {
    /// One model's standing across the hosts.
    public struct Model: Hashable, Sendable, Codable {
        /// The model name.
        public var name: String
        /// For a version of another model (`Haswell-v4`), the model it stands for.
        public var canonical: String?
        /// The model's vendor, if it has one.
        public var vendor: String?
        /// How many hosts can run it.
        public var runnableOn: Int
        /// Hosts that cannot run it, grouped by what they lack.
        public var blocked: [Blockers]
        /// What domcapabilities files say of the model, where they say it.
        public var declared: [Declaration]
    }

    /// Hosts that lack the same features for a model.
    public struct Blockers: Hashable, Sendable, Codable {
        /// The features the hosts lack, in map order.
        public var missing: [String]
        /// The hosts.
        public var hosts: [String]
    }

    /// A domcapabilities file's word on a model, and whether we agree.
    public struct Declaration: Hashable, Sendable, Codable {
        /// The domcapabilities file.
        public var host: String
        /// `yes`, `no` or `unknown`, as the file says; nil where it says nothing.
        public var usable: String?
        /// Whether the file marks the model deprecated.
        public var deprecated: Bool
        /// Set when the file's `usable` differs from what the features say.
        public var disagreement: String?
    }

    /// The best model that at least `minHosts` hosts can run: the one with the
    /// most features (more hosts on a tie); where it runs on every host, `best`.
    public struct Partial: Hashable, Sendable, Codable {
        /// The fewest hosts the model must run on.
        public var minHosts: Int
        /// The model, or nil when no model runs on that many hosts.
        public var model: String?
        /// The hosts that cannot run it.
        public var hostsLeftOut: [String]
    }

    /// The hosts, in input order.
    public var hosts: [CPUSummary]
    /// The models, newest (last in the map) first.
    public var models: [Model]
    /// Models every host can run, newest first.
    public var usableEverywhere: [String]
    /// The best of them: the one a baseline of the hosts would pick among
    /// models that need nothing disabled (fewest features to add).
    public var best: String?
    /// With `minHosts`: the best model enough hosts can run.
    public var partial: Partial?
}

extension CPUArchitecture {
    /// For every model of the hosts' vendors (and vendor-neutral models) that
    /// some host can run or some domcapabilities file declares, or every
    /// model with `includeAll`, newest first:
    /// which hosts can run it (its features ⊆ the host's) and what the others lack.
    ///
    /// - Parameters:
    ///   - hosts: The host CPUs, in the order the report lists them.
    ///   - includeAll: List every model of the map, not only those some host runs or declares.
    ///   - minHosts: Also find the best model at least this many hosts can run.
    /// - Returns: One row per model, the models every host runs, and the best of them.
    public func modelUsability(of hosts: [CPU], includeAll: Bool = false, minHosts: Int? = nil) -> ModelUsabilityReport {
        let vendors = Set(hosts.compactMap { $0.vendor?.name ?? $0.model?.vendor })

        var rows: [ModelUsabilityReport.Model] = []
        var everywhere: [CPUModel] = []
        var partialChoice: (model: CPUModel, runnable: [Bool])?
        for model in models.reversed() where includeAll || model.vendor == nil || vendors.contains(model.vendor ?? "") {
            // Hosts are grouped by what they lack as sets; names are made once per group.
            var blocked: [FeatureSet: [String]] = [:]
            var order: [FeatureSet] = []
            var runnable: [Bool] = []
            var declarations: [ModelUsabilityReport.Declaration] = []
            for host in hosts {
                let missing = model.features.subtracting(host.features)
                runnable.append(missing.isEmpty)
                if !missing.isEmpty {
                    if blocked[missing] == nil { order.append(missing) }
                    blocked[missing, default: []].append(host.definition.path)
                }
                if let declared = host.definition.declaredModels.first(where: { $0.name == model.name }) {
                    var disagreement: String?
                    if declared.usable == "yes", !missing.isEmpty {
                        disagreement = "the file says usable, but the host lacks \(names(of: missing).joined(separator: ","))"
                    } else if declared.usable == "no", missing.isEmpty {
                        disagreement = "the file says not usable, but the host has every feature of the model"
                    }
                    declarations.append(.init(host: host.definition.path, usable: declared.usable,
                                              deprecated: declared.deprecated, disagreement: disagreement))
                }
            }
            let count = runnable.filter { $0 }.count
            if count > 0 || includeAll || !declarations.isEmpty {
                rows.append(.init(name: model.name, canonical: canonicalName(of: model), vendor: model.vendor, runnableOn: count,
                                  blocked: order.map { .init(missing: names(of: $0), hosts: blocked[$0] ?? []) },
                                  declared: declarations))
            }
            if count == hosts.count { everywhere.append(model) }
            if let minHosts, count >= minHosts, model.decodesGuest {
                if let current = partialChoice {
                    let better = model.features.count > current.model.features.count
                        || (model.features.count == current.model.features.count && count > current.runnable.filter { $0 }.count)
                    if better { partialChoice = (model, runnable) }
                } else {
                    partialChoice = (model, runnable)
                }
            }
        }
        let best = bestRunnableModel(for: hosts)
        var partial: ModelUsabilityReport.Partial?
        if let choice = partialChoice, !choice.runnable.contains(false), let best {
            partialChoice = (best, choice.runnable)  // every host can run it: that is `best`'s question
        }
        if let minHosts {
            partial = .init(minHosts: minHosts, model: partialChoice?.model.name,
                            hostsLeftOut: zip(hosts, partialChoice?.runnable ?? hosts.map { _ in false })
                                .filter { !$0.1 }.map { $0.0.definition.path })
        }
        return ModelUsabilityReport(hosts: hosts.map { CPUSummary($0, in: self) }, models: rows,
                                    usableEverywhere: everywhere.map(\.name), best: best?.name, partial: partial)
    }

    /// The model a baseline of `hosts` picks among those that need nothing
    /// disabled: the baseline's own rules, limited to runnable models. Where
    /// the hosts' vendors differ, only vendor-neutral models are candidates.
    private func bestRunnableModel(for hosts: [CPU]) -> CPUModel? {
        bestModel(for: BaselineInputs(hosts, modelCount: models.count, allowCrossVendor: true), runnableOnly: true)
    }

    /// For a model that only renames its parent (`Haswell-v4`), the name of
    /// the model it stands for, following the chain.
    ///
    /// - Parameter model: A model of this architecture.
    /// - Returns: The farthest model up the parent chain that has the same
    ///   features, or nil when the parent's features differ (or there is none).
    public func canonicalName(of model: CPUModel) -> String? {
        var current = model
        var seen: Set<String> = [model.name]
        while let parentName = current.parent, let parent = self.model(named: parentName), parent.features == current.features,
              seen.insert(parent.name).inserted {
            current = parent
        }
        return current.name == model.name ? nil : current.name
    }
}
