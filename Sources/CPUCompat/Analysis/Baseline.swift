/// The best named CPU model that every given CPU can run, computed the way
/// libvirt 9.0's `virsh cpu-baseline` computes it.
///
/// These are the rules, learned by experiment against `virsh -c
/// test:///default cpu-baseline` (libvirt 9.0, Debian 12) and checked by the
/// differential test over generated and real host CPUs:
///
/// 1. **Vendor.** The vendor is the one the inputs name in `<vendor>`; a CPU
///    without `<vendor>` agrees with any. Two different vendors fail with
///    `CPU vendors do not match`. The result carries `<vendor>` only when some
///    input named one.
/// 2. **Common features.** Each CPU's features are its model's (inherited)
///    features plus its listed features; the baseline's feature set is their
///    intersection. An empty intersection fails with `CPUs are incompatible`.
/// 3. **Candidates.** Every map model that may describe a guest
///    (`<decode guest='on'>`, or no `<decode>`), whose vendor is the
///    baseline's vendor or that has no vendor, in map order.
/// 4. **Choice.** For a candidate, `require` = common features the model
///    lacks and `disable` = model features not in common. If every input
///    names the same model and that model is a candidate, it is chosen
///    outright. Otherwise the candidate with the fewest `require` + `disable`
///    wins; on a tie the one earlier in the map stays.
/// 5. **Fallback.** `forbid` when the chosen model is the one every input
///    named; `allow` otherwise.
/// 6. **Feature order.** `require` then `disable`, each in CPU-map order. With
///    `expandFeatures` (virsh's `--features`), every feature of the result is
///    listed with `require`, sorted by name, and nothing is disabled.
///
/// One deliberate difference: libvirt 9.0 ignores `policy='disable'` in
/// baseline input (a domcapabilities host-model CPU keeps the model features
/// the host lacks). cpucompat honours it, since a guest cannot get a
/// feature its host disables.
public struct Baseline: Hashable, Sendable, Codable {
    /// Whether libvirt may replace the model with a close one (`allow`) or
    /// must use it as named (`forbid`).
    public enum Fallback: String, Hashable, Sendable, Codable {
        case allow, forbid
    }

    /// The chosen model.
    public var model: String
    /// The vendor, when some input named one.
    public var vendor: String?
    /// The model's `fallback` attribute.
    public var fallback: Fallback
    /// Features beyond the model that every CPU has, in map order.
    public var require: [String]
    /// Features of the model that some CPU lacks, in map order.
    public var disable: [String]
    /// The x86-64 level of the common features.
    public var level: MicroarchitectureLevel?
    /// What the user should know about this baseline (a lower level than every
    /// host, a cross-vendor model). Not part of libvirt's XML.
    public var warnings: [String]

    /// Every feature a guest with this baseline gets (the intersection), not encoded.
    public var features: FeatureSet { commonFeatures }
    private var commonFeatures: FeatureSet

    private enum CodingKeys: String, CodingKey {
        case model, vendor, fallback, require, disable, level, warnings
    }

    /// Options of the baseline computation.
    public struct Options: Hashable, Sendable {
        /// List every feature with `require` instead of the model's difference (`--features`).
        public var expandFeatures: Bool
        /// Leave out features the map marks `migratable='no'` (`--migratable`).
        public var migratableOnly: Bool
        /// Where vendors differ, choose among vendor-neutral models instead of failing.
        public var allowCrossVendor: Bool

        public init(expandFeatures: Bool = false, migratableOnly: Bool = false, allowCrossVendor: Bool = false) {
            self.expandFeatures = expandFeatures
            self.migratableOnly = migratableOnly
            self.allowCrossVendor = allowCrossVendor
        }
    }

    init(model: String, vendor: String?, fallback: Fallback, require: [String], disable: [String],
         level: MicroarchitectureLevel?, warnings: [String], features: FeatureSet) {
        self.model = model
        self.vendor = vendor
        self.fallback = fallback
        self.require = require
        self.disable = disable
        self.level = level
        self.warnings = warnings
        commonFeatures = features
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        model = try container.decode(String.self, forKey: .model)
        vendor = try container.decodeIfPresent(String.self, forKey: .vendor)
        fallback = try container.decode(Fallback.self, forKey: .fallback)
        require = try container.decode([String].self, forKey: .require)
        disable = try container.decode([String].self, forKey: .disable)
        level = try container.decodeIfPresent(MicroarchitectureLevel.self, forKey: .level)
        warnings = try container.decodeIfPresent([String].self, forKey: .warnings) ?? []
        commonFeatures = FeatureSet()
    }
}

extension CPUArchitecture {
    /// The baseline of `cpus`; see `Baseline` for the rules.
    ///
    /// - Throws: `CPUCompatError.incompatible` when the CPUs have different
    ///   vendors or no feature in common, or no CPU is given.
    public func baseline(of cpus: [CPU], options: Baseline.Options = .init()) throws(CPUCompatError) -> Baseline {
        guard let first = cpus.first else { throw .incompatible(message: "No CPUs given") }
        var vendor: CPUVendor?
        var crossVendor = false
        var warnings: [String] = []
        var common = first.features
        var sharedModel = first.model?.name
        var modelsAgree = true
        for cpu in cpus {
            if let named = cpu.vendor {
                if let vendor, vendor.name != named.name, !crossVendor {
                    guard options.allowCrossVendor else {
                        throw .incompatible(message: "CPU vendors do not match (\(vendor.name) in one CPU, \(named.name) in \(cpu.location))")
                    }
                    crossVendor = true
                    warnings.append("the hosts have different CPU vendors (\(vendor.name), \(named.name)): only a vendor-neutral model fits, and live migration between vendors is risky")
                }
                if !crossVendor { vendor = named }
            }
            if let name = cpu.model?.name {
                if sharedModel == nil { sharedModel = name } else if sharedModel != name { modelsAgree = false }
            }
            common.formIntersection(cpu.features)
        }
        if !modelsAgree { sharedModel = nil }
        if crossVendor { vendor = nil }
        if options.migratableOnly { common.subtract(nonMigratableFeatures) }
        guard !common.isEmpty else { throw .incompatible(message: "CPUs are incompatible") }

        guard let chosen = bestModel(for: common, vendor: vendor?.name, preferred: sharedModel, vendorNeutralOnly: crossVendor) else {
            throw .incompatible(message: "Cannot find a CPU model for the common features")
        }
        let require: [String]
        let disable: [String]
        if options.expandFeatures {
            require = names(of: common).sorted()
            disable = []
        } else {
            require = names(of: common.subtracting(chosen.features))
            disable = names(of: chosen.features.subtracting(common))
        }
        let level = self.level(of: common)
        let hostLevels = cpus.map { self.level(of: $0.features) }
        if let lowest = hostLevels.compactMap({ $0 }).min(), hostLevels.allSatisfy({ $0 != nil }),
           level.map({ $0 < lowest }) ?? true {
            warnings.append("the baseline is \(level?.description ?? "below x86-64-v1") while every host is at least \(lowest) (RHEL 9 guests need x86-64-v2, RHEL 10 guests x86-64-v3)")
        }
        return Baseline(model: chosen.name, vendor: vendor?.name,
                        fallback: chosen.name == sharedModel ? .forbid : .allow,
                        require: require, disable: disable, level: level, warnings: warnings, features: common)
    }

    /// The model that describes `features` with the fewest listed
    /// differences, among those allowed for a guest of `vendor`.
    func bestModel(for features: FeatureSet, vendor: String?, preferred: String?, vendorNeutralOnly: Bool = false) -> CPUModel? {
        var best: CPUModel?
        var bestCost = Int.max
        for model in models where model.decodesGuest && !(vendorNeutralOnly && model.vendor != nil) {
            if let modelVendor = model.vendor, let vendor, modelVendor != vendor { continue }
            if model.name == preferred { return model }
            let cost = features.subtracting(model.features).count + model.features.subtracting(features).count
            if cost < bestCost {
                best = model
                bestCost = cost
            }
        }
        return best
    }
}
