/// The best named CPU model that every given CPU can run, computed the way
/// `virsh cpu-baseline` of libvirt 9.0, 11.3 and 12.9 computes it.
///
/// These are the rules, learned by black-box experiment against `virsh -c
/// test:///default cpu-baseline` of each release with its own CPU map, and
/// held to by the differential tests over generated and real host CPUs. One
/// algorithm serves all three; what changed between them is in the maps,
/// which the loader reads (`added='yes'`, the order of retired features).
///
/// 0. **A model.** Every CPU must name one (libvirt: "Missing CPU model name").
/// 1. **Features of a CPU.** Its model's features (parents included, those
///    marked `removed='yes'` or `added='yes'` excluded) plus its listed
///    features. The baseline's data is the intersection over all CPUs.
/// 2. **Vendor.** The first CPU's `<vendor>` sets the vendor, if it names one.
///    Each later CPU must agree: its `<vendor>`, or failing that its model's
///    vendor, sets the vendor if none is set yet and must otherwise match it
///    (`CPU vendors do not match`); a later CPU whose `<vendor>` contradicts
///    its own model's vendor is an error too. The result prints `<vendor>`
///    only when every CPU named one.
/// 3. **Candidates.** Models with `<decode guest='on'>` (or no `<decode>`)
///    whose vendor is the baseline's vendor or that have none, scanned from
///    the last in the map to the first.
/// 4. **The same model everywhere.** If every CPU names the same model and
///    the scan reaches it, that model is the result with `fallback='forbid'`.
/// 5. **Cost.** For a candidate: `r` = common features it lacks; `d` = its
///    features, and its retired features, not in common; `k = ⌈d/2⌉`;
///    `cost = r + d + k(k+1)/2`: each further disabled feature costs more.
///    A candidate replaces the best so far if its cost is lower, or equal
///    with a lower `k`, or if it is the model of one of the input CPUs and
///    its `k` is lower, whatever its cost. Full ties keep the later model.
/// 6. **Fallback.** `forbid` only by rule 4; otherwise `allow`.
/// 7. **Features.** `require` lists common features the model lacks, in map
///    order; `disable` lists the model's features not in common in map order,
///    then its retired features not in common, in the order the model's
///    files list them. With `expandFeatures` (virsh's `--features`) every
///    common feature is `require` and every other feature of the model
///    (retired ones included) `disable`, all in one list sorted by name.
///
/// Where cpucompat deliberately differs from libvirt:
/// - `policy='disable'` and `policy='forbid'` features take the feature away.
///   libvirt reads every baseline input as a host CPU and counts them as
///   present, so a domcapabilities host-model that disables a feature still
///   "has" it; a guest on that host cannot, so cpucompat leaves it out.
///   (libvirt also refuses a domcapabilities file as baseline input.)
/// - Feature aliases (`sse4_1`, `pclmulqdq`) are accepted; libvirt rejects
///   them in baseline input although its map defines them.
/// - Guest-style `<cpu mode='custom'>` elements and CPUs without `<arch>`
///   (taken as x86) are read; libvirt refuses both.
/// - `allowCrossVendor` and `migratableOnly` are cpucompat's options (the
///   test driver rejects `--migratable`).
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

    /// Whether the features are listed in full (virsh's `--features`):
    /// `require` holds every common feature and `disable` every other
    /// feature of the model, and libvirt's XML lists them together by name.
    public var listsEveryFeature: Bool

    private enum CodingKeys: String, CodingKey {
        case model, vendor, fallback, require, disable, level, warnings, listsEveryFeature
    }

    /// Options of the baseline computation.
    public struct Options: Hashable, Sendable {
        /// List every feature with `require` instead of the model's difference (`--features`).
        public var expandFeatures: Bool
        /// Leave out features the map marks `migratable='no'` (`--migratable`).
        public var migratableOnly: Bool
        /// Where vendors differ, choose among vendor-neutral models instead of failing.
        public var allowCrossVendor: Bool

        /// Options; the defaults are `virsh cpu-baseline` without flags.
        ///
        /// - Parameters:
        ///   - expandFeatures: List every feature (`--features`).
        ///   - migratableOnly: Leave out `migratable='no'` features (`--migratable`).
        ///   - allowCrossVendor: Choose a vendor-neutral model where vendors differ.
        public init(expandFeatures: Bool = false, migratableOnly: Bool = false, allowCrossVendor: Bool = false) {
            self.expandFeatures = expandFeatures
            self.migratableOnly = migratableOnly
            self.allowCrossVendor = allowCrossVendor
        }
    }

    /// A baseline from its parts, as a caller that computed or stored one has them.
    ///
    /// - Parameters:
    ///   - model: The chosen model's name.
    ///   - vendor: The vendor, or nil when not every input named one.
    ///   - fallback: Whether libvirt may replace the model with a close one.
    ///   - require: Features beyond the model, in map order.
    ///   - disable: Features of the model to take away, in map order.
    ///   - level: The x86-64 level of the features the guest gets.
    ///   - warnings: What the user should know.
    ///   - listsEveryFeature: Whether `require` and `disable` list every feature (`--features`).
    public init(model: String, vendor: String? = nil, fallback: Fallback = .allow, require: [String] = [], disable: [String] = [],
                level: MicroarchitectureLevel? = nil, warnings: [String] = [], listsEveryFeature: Bool = false) {
        self.model = model
        self.vendor = vendor
        self.fallback = fallback
        self.require = require
        self.disable = disable
        self.level = level
        self.warnings = warnings
        self.listsEveryFeature = listsEveryFeature
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(model: try container.decode(String.self, forKey: .model),
                  vendor: try container.decodeIfPresent(String.self, forKey: .vendor),
                  fallback: try container.decode(Fallback.self, forKey: .fallback),
                  require: try container.decode([String].self, forKey: .require),
                  disable: try container.decode([String].self, forKey: .disable),
                  level: try container.decodeIfPresent(MicroarchitectureLevel.self, forKey: .level),
                  warnings: try container.decodeIfPresent([String].self, forKey: .warnings) ?? [],
                  listsEveryFeature: try container.decodeIfPresent(Bool.self, forKey: .listsEveryFeature) ?? false)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(model, forKey: .model)
        try container.encodeIfPresent(vendor, forKey: .vendor)
        try container.encode(fallback, forKey: .fallback)
        try container.encode(require, forKey: .require)
        try container.encode(disable, forKey: .disable)
        try container.encodeIfPresent(level, forKey: .level)
        try container.encode(warnings, forKey: .warnings)
        // Left out when false, so the JSON of a plain baseline is what it always was.
        if listsEveryFeature { try container.encode(listsEveryFeature, forKey: .listsEveryFeature) }
    }

    /// The `<feature>`s of libvirt's XML with `listsEveryFeature`: `require`
    /// and `disable` together, sorted by name as virsh's `--features` prints them.
    var sortedEntries: [(name: String, required: Bool)]? {
        guard listsEveryFeature else { return nil }
        return (require.map { ($0, true) } + disable.map { ($0, false) }).sorted { precedesInLibvirtOrder($0.0, $1.0) }
    }
}

/// What a set of CPUs brings to a baseline (rules 0 to 2 of `Baseline`): the
/// features they share, the vendor the candidates must have, and the models
/// they name. `baseline(of:)`, `modelUsability(of:)` and the migration
/// matrix read CPUs through this one type.
struct BaselineInputs {
    /// The intersection of the CPUs' features.
    var common: FeatureSet
    /// The vendor candidates must have (or have none), unless `crossVendor`.
    var vendor: String?
    /// The first two vendors that differ, if the CPUs' do: then only vendor-neutral models fit.
    var differingVendors: (first: String, second: String)?
    var crossVendor: Bool { differingVendors != nil }
    /// Whether every CPU has a `<vendor>` (libvirt prints one only then).
    var everyCPUNamesAVendor = true
    /// The model every CPU names, if they all name the same.
    var sharedModel: String?
    /// Whether each model, by index, is a guest-decodable model some CPU
    /// names. (A Bool per model, not a `Set<Int>`: a run uses no other set
    /// of integers, and that type's first use costs more than a short baseline.)
    var inputModels: [Bool]
    /// The first problem libvirt would refuse the CPUs for, in their order:
    /// a CPU without a model, a CPU whose vendor contradicts its model's, or
    /// (without `allowCrossVendor`) differing vendors.
    var problem: CPUCompatError?

    /// The inputs of the CPUs of an architecture with `modelCount` models.
    init(_ cpus: [CPU], modelCount: Int, allowCrossVendor: Bool) {
        inputModels = Array(repeating: false, count: modelCount)
        common = cpus.first?.features ?? FeatureSet()
        vendor = cpus.first?.vendor?.name
        sharedModel = cpus.first?.model?.name
        var vendorLocation = cpus.first?.location ?? ""
        for (position, cpu) in cpus.enumerated() {
            // libvirt refuses a baseline input CPU without a model as invalid XML.
            if cpu.model == nil {
                note(.invalidCPU(path: cpu.definition.path, line: cpu.definition.line, message: "Missing CPU model name"))
            }
            if let model = cpu.model, model.decodesGuest, inputModels.indices.contains(model.index) { inputModels[model.index] = true }
            if cpu.model?.name != sharedModel { sharedModel = nil }
            if cpu.vendor == nil { everyCPUNamesAVendor = false }
            common.formIntersection(cpu.features)
            guard position > 0, !crossVendor else { continue }
            if let named = cpu.vendor?.name, let own = cpu.model?.vendor, named != own {
                note(.incompatible(message: "CPU vendor \(own) of model \(cpu.model?.name ?? "") differs from vendor \(named) (\(cpu.location))"))
            }
            guard let effective = cpu.vendor?.name ?? cpu.model?.vendor else { continue }
            if vendor == nil {
                vendor = effective
                vendorLocation = cpu.location
            } else if let vendor, vendor != effective {
                if !allowCrossVendor {
                    note(.incompatible(message: "CPU vendors do not match: \(vendor) in \(vendorLocation), \(effective) in \(cpu.location) "
                                       + "(--allow-cross-vendor picks a vendor-neutral model instead)"))
                }
                differingVendors = (vendor, effective)
            }
        }
        if crossVendor { vendor = nil }
    }

    private mutating func note(_ error: CPUCompatError) {
        if problem == nil { problem = error }
    }
}

extension CPUArchitecture {
    /// The baseline of `cpus`; see ``Baseline`` for the rules.
    ///
    /// - Parameters:
    ///   - cpus: The CPUs, in the order `virsh cpu-baseline` would read them
    ///     (the first CPU's vendor counts first).
    ///   - options: virsh's flags and cpucompat's own.
    /// - Returns: The model, vendor and features libvirt would print.
    /// - Throws: `CPUCompatError.incompatible` when the CPUs have different
    ///   vendors or no feature in common, or no CPU is given;
    ///   `.invalidCPU` for a CPU without a model.
    public func baseline(of cpus: [CPU], options: Baseline.Options = .init()) throws(CPUCompatError) -> Baseline {
        try baselineAndCommonFeatures(of: cpus, options: options).baseline
    }

    /// The baseline of `cpus`, and the features they have in common, which a
    /// guest with that baseline gets (what the patch plan and the matrix need).
    func baselineAndCommonFeatures(of cpus: [CPU], options: Baseline.Options = .init())
        throws(CPUCompatError) -> (baseline: Baseline, common: FeatureSet) {
        guard !cpus.isEmpty else { throw .incompatible(message: "No CPUs given") }
        var inputs = BaselineInputs(cpus, modelCount: models.count, allowCrossVendor: options.allowCrossVendor)
        if let problem = inputs.problem { throw problem }
        var warnings: [String] = []
        if let vendors = inputs.differingVendors {
            warnings.append("the hosts have different CPU vendors (\(vendors.first), \(vendors.second)): only a vendor-neutral model fits, and live migration between vendors is risky")
        }
        if options.migratableOnly { inputs.common.subtract(nonMigratableFeatures) }
        let common = inputs.common
        guard !common.isEmpty else {
            let named = cpus.prefix(4).map(\.location).joined(separator: ", ") + (cpus.count > 4 ? ", …" : "")
            throw .incompatible(message: "CPUs are incompatible: the \(cpus.count) CPUs (\(named)) have no feature in common"
                                + (options.migratableOnly ? " that can migrate" : ""))
        }

        guard let chosen = bestModel(for: inputs) else {
            throw .incompatible(message: "no CPU model of the map fits the features the \(cpus.count) CPUs have in common"
                                + (inputs.crossVendor ? " (only vendor-neutral models were considered)" : ""))
        }
        var require = names(of: common.subtracting(chosen.features))
        var disable = names(of: chosen.features.subtracting(common))
            + chosen.retiredFeatureOrder.filter { !common.contains($0) }.map { features[$0].name }
        if options.expandFeatures {
            require = names(of: common).sorted(by: precedesInLibvirtOrder)
            disable = names(of: chosen.features.union(chosen.retiredFeatures).subtracting(common)).sorted(by: precedesInLibvirtOrder)
        }
        let baseline = Baseline(model: chosen.name, vendor: inputs.everyCPUNamesAVendor ? inputs.vendor : nil,
                                fallback: chosen.name == inputs.sharedModel ? .forbid : .allow, require: require, disable: disable,
                                level: level(of: common), warnings: warnings + levelWarning(common, cpus),
                                listsEveryFeature: options.expandFeatures)
        return (baseline, common)
    }

    /// A warning when the baseline is a lower x86-64 level than some hosts:
    /// guests that need the higher level would not boot under it.
    private func levelWarning(_ common: FeatureSet, _ cpus: [CPU]) -> [String] {
        let level = self.level(of: common)
        let above = cpus.compactMap { self.level(of: $0.features) }.filter { hostLevel in level.map { hostLevel > $0 } ?? true }
        guard let highest = above.max() else { return [] }
        let hosts = above.count == 1 ? "1 host is" : "\(above.count) hosts are"
        return ["the baseline is \(level?.description ?? "below x86-64-v1"), while \(hosts) at \(level == nil ? "x86-64-v1" : "a higher level") (up to \(highest)); RHEL 9 guests need x86-64-v2, RHEL 10 guests x86-64-v3"]
    }

    /// The model libvirt would name for the CPUs of `inputs` (rules 3 to 5 of `Baseline`).
    ///
    /// - Parameters:
    ///   - inputs: The CPUs' common features, vendor and models.
    ///   - runnableOnly: Consider only models that need nothing disabled.
    /// - Returns: The model, or nil when no candidate is left.
    func bestModel(for inputs: BaselineInputs, runnableOnly: Bool = false) -> CPUModel? {
        let features = inputs.common, vendor = inputs.vendor
        var best: (model: CPUModel, cost: Int, k: Int)?
        for model in models.reversed() where model.decodesGuest {
            if runnableOnly, !model.features.union(model.retiredFeatures).isSubset(of: features) { continue }
            if inputs.crossVendor ? model.vendor != nil : (model.vendor != nil && vendor != nil && model.vendor != vendor) {
                continue
            }
            if model.name == inputs.sharedModel { return model }
            let r = features.subtracting(model.features).count
            let d = model.features.subtracting(features).count + model.retiredFeatures.subtracting(features).count
            let k = (d + 1) / 2
            let cost = r + d + k * (k + 1) / 2
            guard let current = best else {
                best = (model, cost, k)
                continue
            }
            if cost < current.cost || (cost == current.cost && k < current.k)
                || (inputs.inputModels[model.index] && k < current.k) {
                best = (model, cost, k)
            }
        }
        return best?.model
    }
}

/// The order virsh's `--features` lists names in: by their bytes (C's `strcmp`), not by Unicode collation.
private func precedesInLibvirtOrder(_ lhs: String, _ rhs: String) -> Bool {
    lhs.utf8.lexicographicallyPrecedes(rhs.utf8)
}
