/// OpenStack Nova's vocabulary for CPUs: the `[libvirt]` settings of
/// `nova.conf` and the placement traits of a compute host's CPU features.
///
/// Sources (read, not copied): the options `cpu_mode`, `cpu_models` ("An
/// ordered list of CPU models the host supports … the more common and less
/// advanced CPU models are listed earlier") and `cpu_model_extra_flags` (case
/// insensitive) in openstack/nova `nova/conf/libvirt.py`; `doc/source/admin/cpu-models.rst`
/// ("If no CPU feature traits are specified then the instance will be
/// configured with the first CPU model in the list"; a model or flag a host
/// cannot run stops nova-compute from starting); the feature-to-trait table
/// `CPU_TRAITS_MAPPING` in `nova/virt/libvirt/utils.py`, whose trait names are
/// those of openstack/os-traits.
public enum Nova {
    /// Nova's `CPU_TRAITS_MAPPING`: a libvirt feature name and the traits it
    /// gives, in the table's order. The names are looked up in the CPU map,
    /// aliases included, so `sse3` is libvirt's `pni` and `pclmuldq` QEMU's `pclmulqdq`.
    public static let traitsByFeature: [(feature: String, traits: [String])] = [
        ("3dnow", ["HW_CPU_X86_3DNOW"]), ("abm", ["HW_CPU_X86_ABM"]), ("aes", ["HW_CPU_X86_AESNI"]),
        ("avx", ["HW_CPU_X86_AVX"]), ("avx2", ["HW_CPU_X86_AVX2"]), ("avx512bw", ["HW_CPU_X86_AVX512BW"]),
        ("avx512cd", ["HW_CPU_X86_AVX512CD"]), ("avx512dq", ["HW_CPU_X86_AVX512DQ"]),
        ("avx512er", ["HW_CPU_X86_AVX512ER"]), ("avx512f", ["HW_CPU_X86_AVX512F"]),
        ("avx512pf", ["HW_CPU_X86_AVX512PF"]), ("avx512vl", ["HW_CPU_X86_AVX512VL"]),
        ("avx512vnni", ["HW_CPU_X86_AVX512VNNI"]), ("avx512vbmi", ["HW_CPU_X86_AVX512VBMI"]),
        ("avx512ifma", ["HW_CPU_X86_AVX512IFMA"]), ("avx512vbmi2", ["HW_CPU_X86_AVX512VBMI2"]),
        ("avx512bitalg", ["HW_CPU_X86_AVX512BITALG"]), ("vaes", ["HW_CPU_X86_AVX512VAES"]),
        ("gfni", ["HW_CPU_X86_AVX512GFNI"]), ("vpclmulqdq", ["HW_CPU_X86_AVX512VPCLMULQDQ"]),
        ("avx512-vpopcntdq", ["HW_CPU_X86_AVX512VPOPCNTDQ"]), ("bmi1", ["HW_CPU_X86_BMI"]),
        ("bmi2", ["HW_CPU_X86_BMI2"]), ("pclmuldq", ["HW_CPU_X86_CLMUL"]), ("f16c", ["HW_CPU_X86_F16C"]),
        ("fma", ["HW_CPU_X86_FMA3"]), ("fma4", ["HW_CPU_X86_FMA4"]), ("mmx", ["HW_CPU_X86_MMX"]),
        ("mpx", ["HW_CPU_X86_MPX"]), ("sha-ni", ["HW_CPU_X86_SHA"]), ("sse", ["HW_CPU_X86_SSE"]),
        ("sse2", ["HW_CPU_X86_SSE2"]), ("sse3", ["HW_CPU_X86_SSE3"]), ("sse4.1", ["HW_CPU_X86_SSE41"]),
        ("sse4.2", ["HW_CPU_X86_SSE42"]), ("sse4a", ["HW_CPU_X86_SSE4A"]), ("ssse3", ["HW_CPU_X86_SSSE3"]),
        ("svm", ["HW_CPU_X86_SVM", "HW_CPU_X86_AMD_SVM"]), ("tbm", ["HW_CPU_X86_TBM"]),
        ("vmx", ["HW_CPU_X86_VMX", "HW_CPU_X86_INTEL_VMX"]), ("xop", ["HW_CPU_X86_XOP"]),
    ]
}

/// What `cpucompat export nova` answers.
public struct NovaExport: Hashable, Sendable, Codable {
    /// One compute host.
    public struct Host: Hashable, Sendable, Codable {
        /// The file.
        public var path: String
        /// The host-model (or host) CPU's model.
        public var model: String?
        /// The `HW_CPU_X86_*` traits of its features, sorted.
        public var traits: [String]
    }

    /// The hosts, in input order.
    public var hosts: [Host]
    /// Always `custom`: the mode in which `cpu_models` applies.
    public var cpuMode: String
    /// `[libvirt] cpu_models`: the newest models every host runs, oldest first.
    public var cpuModels: [String]
    /// Every model every host runs, oldest first (CPU-map order): what
    /// `cpu_models` may list.
    public var runnableModels: [String]
    /// `[libvirt] cpu_model_extra_flags`: features every host has beyond the
    /// newest of `cpuModels`, in CPU-map order, less the non-migratable ones.
    public var extraFlags: [String]
    /// Features every host has that were left out of `extraFlags` because
    /// they block live migration (`migratable='no'`, such as `invtsc`).
    public var nonMigratableLeftOut: [String]
    /// What the operator should know (a host read from capabilities, no model in common).
    public var warnings: [String]
}

extension CPUArchitecture {
    /// The `nova.conf` settings every host supports, and each host's traits.
    ///
    /// A model is a candidate when every host has all its features, it is a
    /// guest model of the hosts' vendor (vendor-neutral models where vendors
    /// differ), not a mere alias of another (`Haswell-v4`), and every
    /// domcapabilities file that lists models says it is `usable='yes'`.
    ///
    /// - Parameters:
    ///   - hosts: The compute hosts, best read from `virsh domcapabilities`.
    ///   - modelCount: How many of the newest candidates `cpu_models` lists.
    /// - Returns: The settings and traits.
    /// - Throws: `CPUCompatError.incompatible` when there are no hosts.
    public func novaExport(of hosts: [CPU], modelCount: Int = 1) throws(CPUCompatError) -> NovaExport {
        guard let first = hosts.first else { throw .incompatible(message: "no hosts given") }
        var warnings: [String] = []
        for host in hosts where host.definition.source != .domainCapabilities {
            warnings.append("\(host.definition.path) is not `virsh domcapabilities` output: a host CPU lists features "
                            + "KVM may not give a guest; the extra flags assume it can")
        }
        var common = first.features
        for host in hosts.dropFirst() { common.formIntersection(host.features) }
        let vendors = Set(hosts.compactMap { $0.vendor?.name ?? $0.model?.vendor })
        let vendor = vendors.count == 1 ? vendors.first : nil
        var runnable: [CPUModel] = []
        for model in models where model.decodesGuest && model.vendor == vendor && canonicalName(of: model) == nil
            && model.features.isSubset(of: common) {
            let declaredUsable = hosts.allSatisfy { host in
                host.definition.declaredModels.isEmpty
                    || host.definition.declaredModels.contains { $0.name == model.name && $0.usable == "yes" }
            }
            if declaredUsable { runnable.append(model) }
        }
        let chosen = Array(runnable.suffix(max(modelCount, 1)))
        var extra = common
        var leftOut = FeatureSet()
        if let newest = chosen.last {
            extra.subtract(newest.features)
            leftOut = extra.intersection(nonMigratableFeatures)
            extra.subtract(leftOut)
        } else {
            warnings.append("no named model runs on every host" + (vendors.count > 1 ? " (their vendors differ)" : ""))
            extra = FeatureSet()
        }
        let novaHosts = hosts.map { host in
            NovaExport.Host(path: host.definition.path, model: host.definition.model ?? host.model?.name,
                            traits: novaTraits(of: host.features))
        }
        return NovaExport(hosts: novaHosts, cpuMode: "custom", cpuModels: chosen.map(\.name),
                          runnableModels: runnable.map(\.name), extraFlags: names(of: extra),
                          nonMigratableLeftOut: names(of: leftOut), warnings: warnings)
    }

    /// The traits Nova's table gives `features`, sorted; table entries the map
    /// lacks give none.
    ///
    /// - Parameter features: A CPU's features.
    /// - Returns: `HW_CPU_X86_*` names.
    public func novaTraits(of features: FeatureSet) -> [String] {
        var traits: Set<String> = []
        for entry in Nova.traitsByFeature {
            if let feature = feature(named: entry.feature), features.contains(feature.index) { traits.formUnion(entry.traits) }
        }
        return traits.sorted()
    }
}

extension NovaExport {
    /// The `[libvirt]` section for `nova.conf` (or a `nova.conf.d` file), with
    /// each host's traits as comments; it ends in a line break.
    public var ini: String {
        var lines = ["# cpucompat export nova: settings every host supports; Nova gives a guest whose flavor",
                     "# requests no CPU traits the first of cpu_models."]
        for warning in warnings { lines.append("# warning: " + CPUCompatError.oneLine(warning)) }
        for host in hosts {
            lines.append("# \(CPUCompatError.oneLine(host.path)) traits: " + (host.traits.isEmpty ? "none" : host.traits.joined(separator: ",")))
        }
        lines.append("[libvirt]")
        if cpuModels.isEmpty {
            lines.append("# no cpu_mode = custom: no named model runs on every host")
        } else {
            lines.append("cpu_mode = \(cpuMode)")
            lines.append("cpu_models = " + cpuModels.joined(separator: ", "))
            if !extraFlags.isEmpty { lines.append("cpu_model_extra_flags = " + extraFlags.joined(separator: ", ")) }
        }
        if !nonMigratableLeftOut.isEmpty {
            lines.append("# left out of the extra flags, as they block live migration: " + nonMigratableLeftOut.joined(separator: ", "))
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
