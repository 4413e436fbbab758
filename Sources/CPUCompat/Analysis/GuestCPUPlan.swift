/// How to make a guest's `<cpu>` run on every one of a set of hosts.
public enum PatchStrategy: String, Hashable, Sendable, Codable, CaseIterable {
    /// A named model (the hosts' baseline) with `fallback='forbid'`: the proper fix.
    case model
    /// Keep `host-model` and disable each feature some host lacks: the quick fix.
    case disable
}

/// How a guest gets its CPU: libvirt's `<cpu mode=…>`.
public enum GuestCPUMode: String, Hashable, Sendable, Codable, CaseIterable {
    /// A named model with listed features: the same CPU wherever the guest runs.
    case custom
    /// The host's CPU as libvirt describes it, expanded when the guest starts.
    case hostModel = "host-model"
    /// The host's CPU as it is: the guest cannot move to a different CPU.
    case hostPassthrough = "host-passthrough"
    /// Everything the hypervisor can give: as host-bound as host-passthrough.
    case maximum

    /// Whether the guest's CPU is whatever the host it starts on has, so it
    /// cannot move between hosts with different CPUs.
    public var isHostBound: Bool { self == .hostPassthrough || self == .maximum }
}

/// How closely a custom guest CPU must match its model: libvirt's `<cpu match=…>`.
public enum CPUMatch: String, Hashable, Sendable, Codable, CaseIterable {
    /// The guest gets at least the model's features; more where the host has them.
    case minimum
    /// The guest gets exactly the model and listed features.
    case exact
    /// The host must match the model exactly.
    case strict
}

/// How strictly libvirt checks the guest CPU once it runs: libvirt's `<cpu check=…>`.
public enum CPUCheck: String, Hashable, Sendable, Codable, CaseIterable {
    /// No check.
    case none
    /// libvirt checks the CPU before starting the guest.
    case partial
    /// libvirt also checks the CPU QEMU created.
    case full
}

/// The `<cpu>` a guest should have: mode, model, vendor and features.
public struct GuestCPUPlan: Hashable, Sendable, Codable {
    /// One `<feature>` to write.
    public struct Feature: Hashable, Sendable, Codable {
        /// `require` or `disable`.
        public var policy: FeaturePolicy
        /// The feature's canonical name.
        public var name: String
    }

    /// `custom` (with a model) or `host-model`.
    public var mode: GuestCPUMode
    /// `exact` for a custom CPU; nil for host-model.
    public var match: CPUMatch?
    /// How strictly libvirt checks the guest CPU after starting it.
    public var check: CPUCheck
    /// The model name, for a custom CPU.
    public var model: String?
    /// The model's fallback attribute, for a custom CPU.
    public var fallback: Baseline.Fallback?
    /// The vendor, when all hosts share one.
    public var vendor: String?
    /// Features in the order they are written: `require` then `disable`, each in map order.
    public var features: [Feature]
    /// Features an existing `require` may keep: every host has them and a guest can get them.
    public var requirable: [String]
    /// Features some host has: an existing `forbid` of one would keep the guest off that host.
    public var presentOnSomeHost: [String]
    /// What was left out and why, for the user.
    public var notes: [String]

    /// Host CPU bits that KVM does not give guests. `virsh capabilities` lists
    /// them for the host; `virsh domcapabilities` already leaves them out.
    public static let hostOnlyFeatures: Set<String> = [
        "ds", "acpi", "ht", "tm", "pbe", "dtes64", "monitor", "ds_cpl", "smx", "est", "tm2", "xtpr", "osxsave",
    ]
}

extension CPUArchitecture {
    /// The guest `<cpu>` that runs on every host in `hosts`.
    ///
    /// - `model`: the hosts' baseline model with `fallback='forbid'`, the
    ///   vendor when all hosts share one, `require` for common features beyond
    ///   the model that a guest can get (never `migratable='no'` ones, never
    ///   host-only bits), `disable` for model features some host lacks.
    /// - `disable`: `host-model` with `disable` for every feature some but
    ///   not all hosts have (the union minus the intersection), in map order.
    ///
    /// - Parameters:
    ///   - hosts: The host CPUs the guest must run on.
    ///   - strategy: A named model, or host-model with a disable list.
    /// - Returns: The `<cpu>` to write, with notes on what was left out.
    /// - Throws: `CPUCompatError.incompatible` when the hosts have no baseline.
    public func guestPlan(for hosts: [CPU], strategy: PatchStrategy) throws(CPUCompatError) -> GuestCPUPlan {
        switch strategy {
        case .model:
            let (baseline, common) = try baselineAndCommonFeatures(of: hosts)
            var union = FeatureSet()
            for host in hosts { union.formUnion(host.features) }
            return guestPlan(model: baseline.model, vendor: baseline.vendor, require: baseline.require,
                             disable: baseline.disable, common: common, union: union)
        case .disable:
            guard var common = hosts.first?.features else { throw .incompatible(message: "No hosts given") }
            var union = FeatureSet()
            for host in hosts {
                common.formIntersection(host.features)
                union.formUnion(host.features)
            }
            let disable = names(of: union.subtracting(common))
            return GuestCPUPlan(mode: .hostModel, match: nil, check: .partial, model: nil, fallback: nil, vendor: nil,
                                features: disable.map { .init(policy: .disable, name: $0) },
                                requirable: names(of: common.subtracting(notForGuests)), presentOnSomeHost: names(of: union),
                                notes: [])
        }
    }

    /// The guest `<cpu>` for a baseline given as a `<cpu>` (the output of
    /// `cpucompat baseline` or `virsh cpu-baseline`).
    ///
    /// - Parameter cpu: The baseline, resolved against the map.
    /// - Returns: A custom-mode `<cpu>` with the baseline's model and features.
    /// - Throws: `CPUCompatError.invalidCPU` when the CPU names no model.
    public func guestPlan(fromBaseline cpu: CPU) throws(CPUCompatError) -> GuestCPUPlan {
        guard let model = cpu.model else {
            throw .invalidCPU(path: cpu.definition.path, line: cpu.definition.line, message: "the baseline names no CPU model")
        }
        return guestPlan(model: model.name, vendor: cpu.vendor?.name,
                         require: names(of: cpu.added.subtracting(model.features)),
                         disable: names(of: cpu.removed.intersection(model.features)),
                         common: cpu.features, union: cpu.features)
    }

    /// Features no guest requirement may name: host-only bits and `migratable='no'` ones.
    var notForGuests: FeatureSet {
        var set = nonMigratableFeatures
        for name in GuestCPUPlan.hostOnlyFeatures { if let feature = feature(named: name) { set.insert(feature.index) } }
        return set
    }

    private func guestPlan(model: String, vendor: String?, require: [String], disable: [String],
                           common: FeatureSet, union: FeatureSet) -> GuestCPUPlan {
        var notes: [String] = []
        let nonMigratable = Set(features.filter { !$0.isMigratable }.map(\.name))
        let leftOutHostOnly = require.filter { GuestCPUPlan.hostOnlyFeatures.contains($0) }
        let leftOutNonMigratable = require.filter { nonMigratable.contains($0) }
        if !leftOutHostOnly.isEmpty {
            notes.append("not required, since KVM does not give them to guests: \(leftOutHostOnly.joined(separator: ","))")
        }
        if !leftOutNonMigratable.isEmpty {
            notes.append("not required, since they prevent migration (migratable='no'): \(leftOutNonMigratable.joined(separator: ","))")
        }
        let required = require.filter { !GuestCPUPlan.hostOnlyFeatures.contains($0) && !nonMigratable.contains($0) }
        return GuestCPUPlan(
            mode: .custom, match: .exact, check: .partial, model: model, fallback: .forbid, vendor: vendor,
            features: required.map { .init(policy: .require, name: $0) } + disable.map { .init(policy: .disable, name: $0) },
            requirable: names(of: common.subtracting(notForGuests)), presentOnSomeHost: names(of: union), notes: notes)
    }
}
