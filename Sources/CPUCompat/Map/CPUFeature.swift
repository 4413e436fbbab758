/// A CPU feature as the CPU map defines it: its canonical name, its position
/// in the map, the CPUID or MSR bits it stands for, and its other names.
public struct CPUFeature: Hashable, Sendable {
    /// A feature from its parts.
    ///
    /// - Parameters:
    ///   - name: The canonical name (`sse4.1`).
    ///   - index: Its position in its architecture's ``CPUArchitecture/features``.
    ///   - aliases: Other names for it.
    ///   - isMigratable: False for a `migratable='no'` feature.
    ///   - bits: The CPUID or MSR bits it stands for.
    public init(name: String, index: Int, aliases: [Alias] = [], isMigratable: Bool = true, bits: [Bit] = []) {
        self.name = name
        self.index = index
        self.aliases = aliases
        self.isMigratable = isMigratable
        self.bits = bits
    }

    /// The canonical name (`sse4.1`), the one libvirt writes.
    public let name: String
    /// The feature's position in its architecture's ``CPUArchitecture/features``,
    /// which is the order of the map's files; it is the feature's bit in a ``FeatureSet``.
    public let index: Int
    /// Other names the map accepts for the feature (`sse4-1`, `sse4_1`), in map order.
    public let aliases: [Alias]
    /// False for features the map marks `migratable='no'` (`invtsc`): a guest
    /// that has them cannot be live-migrated.
    public let isMigratable: Bool
    /// The CPUID or MSR bits that make up the feature, in map order: one for
    /// each register a `<cpuid>` element sets (EAX, EBX, ECX, EDX, in that
    /// order) and one for each `<msr>`. Empty on arm, where features have no
    /// register encoding in the map.
    public let bits: [Bit]

    /// Another name of a feature, with the naming scheme it comes from.
    public struct Alias: Hashable, Sendable {
        /// An alias from its parts.
        ///
        /// - Parameters:
        ///   - name: The alternative name (`sse4_1`).
        ///   - source: The naming scheme it comes from (`qemu`), if any.
        public init(name: String, source: String? = nil) {
            self.name = name
            self.source = source
        }

        /// The alternative name (`sse4_1`).
        public let name: String
        /// The naming scheme the map says the name comes from (`qemu`), or nil
        /// where it says none.
        public let source: String?
    }

    /// Where a feature's bits are found.
    public enum Bit: Hashable, Sendable {
        /// Bits of a CPUID leaf: the leaf (`eax_in`), the subleaf (`ecx_in`, nil
        /// where the map gives none), the output register, and the mask of the
        /// feature's bits in that register.
        case cpuid(leaf: UInt32, subleaf: UInt32?, register: Register, mask: UInt32)
        /// Bits of a model-specific register: its index, and the masks of the
        /// feature's bits in its upper (`edx`) and lower (`eax`) 32 bits.
        case msr(index: UInt32, edx: UInt32, eax: UInt32)
    }

    /// A CPUID output register; the raw value is its attribute name in the map (`ecx`).
    public enum Register: String, Hashable, Sendable, CaseIterable {
        /// EAX.
        case eax
        /// EBX.
        case ebx
        /// ECX.
        case ecx
        /// EDX.
        case edx
    }
}

/// A CPU vendor as the CPU map defines it.
public struct CPUVendor: Hashable, Sendable {
    /// A vendor from its parts.
    ///
    /// - Parameters:
    ///   - name: The name CPU definitions use (`Intel`).
    ///   - string: The CPUID vendor string (`GenuineIntel`), if any.
    ///   - value: The arm implementer value (`0x41`), if any.
    public init(name: String, string: String? = nil, value: String? = nil) {
        self.name = name
        self.string = string
        self.value = value
    }

    /// The name used in CPU definitions and in models' `<vendor>` (`Intel`).
    public let name: String
    /// The CPUID vendor string on x86 (`GenuineIntel`); nil where the map gives none.
    public let string: String?
    /// The implementer value on arm (`0x41`), as written in the map; nil where it gives none.
    public let value: String?
}

/// A family/model signature that identifies the CPUs a model describes.
public struct CPUSignature: Hashable, Sendable {
    /// A signature from its parts.
    ///
    /// - Parameters:
    ///   - family: The CPUID family.
    ///   - model: The CPUID model number.
    ///   - steppings: The steppings covered, or nil for all.
    public init(family: Int, model: Int, steppings: ClosedRange<Int>? = nil) {
        self.family = family
        self.model = model
        self.steppings = steppings
    }

    /// The CPUID family (`6`).
    public let family: Int
    /// The CPUID model number (`60`).
    public let model: Int
    /// The steppings covered (`stepping='5-7'` is `5...7`, `stepping='3'` is
    /// `3...3`), or nil when the signature covers every stepping.
    public let steppings: ClosedRange<Int>?
}

/// A named CPU model of the map (`Haswell-noTSX-IBRS`).
public struct CPUModel: Hashable, Sendable {
    /// The model name.
    public let name: String
    /// The model's position in its architecture's ``CPUArchitecture/models``,
    /// in map order; libvirt's baseline tries candidates from the last to the
    /// first, so a later model is preferred on a tie.
    public let index: Int
    /// The vendor name, if the model belongs to one (`qemu64` does not);
    /// inherited from the parent where the model names none.
    public let vendor: String?
    /// The model this one is defined from (`Haswell-v4` → `Haswell-noTSX-IBRS`), if any.
    public let parent: String?
    /// Whether libvirt may name this model when it describes a host CPU
    /// (`<decode host='on'>`, or no `<decode>`).
    public let decodesHost: Bool
    /// Whether libvirt may name this model when it describes a guest CPU, as
    /// in a baseline (`<decode guest='on'>`, or no `<decode>`); only such
    /// models are baseline candidates.
    public let decodesGuest: Bool
    /// The family/model signatures in map order, inherited from the parent
    /// where the model has none.
    public let signatures: [CPUSignature]
    /// Processor version register values (ppc64, arm), as written in the map,
    /// inherited from the parent where the model has none.
    public let processorVersions: [String]
    /// Every feature of the model: its parent's, and those its own
    /// `<feature>` elements list, except elements marked `removed='yes'` or
    /// `added='yes'`.
    public let features: FeatureSet
    /// Features the model's files list with `removed='yes'` ("retired": QEMU
    /// dropped them from the model), its parent's included. A CPU naming the
    /// model does not have them, but a baseline naming it disables those the
    /// CPUs lack, as libvirt's does (see ``Baseline``).
    public let retiredFeatures: FeatureSet
    /// The indices of the retired features in the order the model's files
    /// list them (the parent's first), which is the order libvirt disables them in.
    public let retiredFeatureOrder: [Int]

    /// A model from its parts; ``retiredFeatures`` is the set of `retiredFeatureOrder`.
    ///
    /// - Parameters:
    ///   - name: The model name.
    ///   - index: Its position in its architecture's ``CPUArchitecture/models``.
    ///   - vendor: The vendor name, if any.
    ///   - parent: The model it is defined from, if any.
    ///   - decodesHost: Whether libvirt may name it for a host CPU.
    ///   - decodesGuest: Whether libvirt may name it for a guest CPU.
    ///   - signatures: Family/model signatures.
    ///   - processorVersions: PVR values (ppc64, arm).
    ///   - features: Its features, the parent's included.
    ///   - retiredFeatureOrder: The indices of its `removed='yes'` features, in listing order.
    public init(name: String, index: Int, vendor: String?, parent: String?, decodesHost: Bool, decodesGuest: Bool,
                signatures: [CPUSignature], processorVersions: [String], features: FeatureSet,
                retiredFeatureOrder: [Int]) {
        self.name = name
        self.index = index
        self.vendor = vendor
        self.parent = parent
        self.decodesHost = decodesHost
        self.decodesGuest = decodesGuest
        self.signatures = signatures
        self.processorVersions = processorVersions
        self.features = features
        self.retiredFeatureOrder = retiredFeatureOrder
        retiredFeatures = FeatureSet(retiredFeatureOrder)
    }
}

/// One architecture's part of the CPU map (`x86`, `ppc64`, `arm`): its
/// vendors, features and models, with lookups by name.
///
/// A feature index or a model means something only within one architecture
/// of one map, so the analyses (``diff(from:to:)``, ``baseline(of:options:)``,
/// ``compare(guest:host:startedOn:)``, ``guestPlan(for:strategy:)``, …) are
/// its methods.
public struct CPUArchitecture: Hashable, Sendable, CustomStringConvertible {
    /// The map's name for the architecture (`x86`), not a CPU's `<arch>`
    /// (`x86_64`); see ``CPUMap/architectureName(forCPUArch:)``.
    public let name: String
    /// Vendors, in map order.
    public let vendors: [CPUVendor]
    /// Features, in map order: `features[i].index == i`.
    public let features: [CPUFeature]
    /// Models, in map order: `models[i].index == i`.
    public let models: [CPUModel]

    private let featureIndexByName: [String: Int]
    private let modelIndexByName: [String: Int]
    /// The x86-64 levels' feature sets, computed once (see `level(of:)`).
    let levelFeatureSets: [(MicroarchitectureLevel, FeatureSet?)]

    init(name: String, vendors: [CPUVendor], features: [CPUFeature], models: [CPUModel]) {
        self.name = name
        self.vendors = vendors
        self.features = features
        self.models = models
        // Sized up front, and filled last entry first so that the first of
        // a repeated key wins with one hash a key: the built-in map is
        // hundreds of names, read on every run.
        var byName = [String: Int](minimumCapacity: features.reduce(features.count) { $0 + $1.aliases.count })
        for feature in features.reversed() {
            for alias in feature.aliases.reversed() { byName[alias.name] = feature.index }
        }
        for feature in features.reversed() { byName[feature.name] = feature.index }
        featureIndexByName = byName
        levelFeatureSets = Self.levelFeatureSets(byName: byName)
        var modelsByName = [String: Int](minimumCapacity: models.count)
        for model in models.reversed() { modelsByName[model.name] = model.index }
        modelIndexByName = modelsByName
    }

    /// The feature called `name` or having it as an alias.
    ///
    /// - Parameter name: A canonical name (`sse4.1`) or an alias (`sse4_1`),
    ///   case-sensitive; where one feature's alias is another's name, the name wins.
    /// - Returns: The feature, or nil if the architecture has none of that name.
    public func feature(named name: String) -> CPUFeature? {
        featureIndexByName[name].map { features[$0] }
    }

    /// The index of the feature called `name` or having it as an alias: for
    /// callers that need only the index, without copying the feature.
    func featureIndex(named name: String) -> Int? {
        featureIndexByName[name]
    }

    /// The model called `name`.
    ///
    /// - Parameter name: The model name, case-sensitive (`Haswell-noTSX-IBRS`).
    /// - Returns: The model, or nil if the architecture has none of that name.
    public func model(named name: String) -> CPUModel? {
        modelIndexByName[name].map { models[$0] }
    }

    /// The vendor called `name`.
    ///
    /// - Parameter name: The vendor name, case-sensitive (`Intel`).
    /// - Returns: The vendor, or nil if the architecture has none of that name.
    public func vendor(named name: String) -> CPUVendor? {
        vendors.first { $0.name == name }
    }

    /// The canonical names of the features in `set`, in map order.
    ///
    /// - Parameter set: Features of this architecture; an index beyond its
    ///   ``features`` is a programmer error and traps.
    /// - Returns: The names, in map order (libvirt's order).
    public func names(of set: FeatureSet) -> [String] {
        set.map { features[$0].name }
    }

    /// The features the map marks `migratable='no'`.
    public var nonMigratableFeatures: FeatureSet {
        FeatureSet(features.filter { !$0.isMigratable }.map(\.index))
    }

    /// `x86: 3 vendors, 212 features, 58 models`: short enough for test failures.
    public var description: String {
        "\(name): \(vendors.count) vendors, \(features.count) features, \(models.count) models"
    }

    /// Whether two architectures have the same name, vendors, features and models.
    ///
    /// - Parameters:
    ///   - lhs: An architecture.
    ///   - rhs: Another architecture.
    /// - Returns: True if every vendor, feature and model is the same, in the same order.
    public static func == (lhs: CPUArchitecture, rhs: CPUArchitecture) -> Bool {
        lhs.name == rhs.name && lhs.vendors == rhs.vendors && lhs.features == rhs.features && lhs.models == rhs.models
    }

    /// Hashes the name and the numbers of features and models only: cheap
    /// for a map of hundreds of entries, and consistent with `==`.
    ///
    /// - Parameter hasher: The hasher to feed.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(name)
        hasher.combine(features.count)
        hasher.combine(models.count)
    }
}
