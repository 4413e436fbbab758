/// A CPU feature as the CPU map defines it: a name, where the bit lives, and
/// what else it is called.
public struct CPUFeature: Hashable, Sendable {
    /// The canonical name (`sse4.1`).
    public let name: String
    /// The position in the map; `FeatureSet` uses it as the bit index.
    public let index: Int
    /// Other names this feature is known by (`sse4_1`, `sse4-1`).
    public let aliases: [Alias]
    /// False for features the map marks `migratable='no'` (`invtsc`): a guest
    /// that has them cannot be live-migrated.
    public let isMigratable: Bool
    /// The CPUID or MSR bits that make up the feature (empty on arm, where
    /// features have no register encoding in the map).
    public let bits: [Bit]

    /// Another name of a feature, with the naming scheme it comes from.
    public struct Alias: Hashable, Sendable {
        /// The alternative name.
        public let name: String
        /// Where the name is used (`qemu`, `linux`), if the map says.
        public let source: String?
    }

    /// Where a feature's bit is found.
    public enum Bit: Hashable, Sendable {
        /// A CPUID leaf (`eax_in`), optional subleaf (`ecx_in`), output register and mask.
        case cpuid(leaf: UInt32, subleaf: UInt32?, register: Register, mask: UInt32)
        /// A model-specific register: its index and the mask over `edx:eax`.
        case msr(index: UInt32, edx: UInt32, eax: UInt32)
    }

    /// A CPUID output register.
    public enum Register: String, Hashable, Sendable, CaseIterable {
        case eax, ebx, ecx, edx
    }
}

/// A CPU vendor as the CPU map defines it.
public struct CPUVendor: Hashable, Sendable {
    /// The name used in CPU definitions (`Intel`).
    public let name: String
    /// The CPUID vendor string on x86 (`GenuineIntel`).
    public let string: String?
    /// The implementer value on arm (`0x41`).
    public let value: String?
}

/// A family/model signature that identifies the CPUs a model describes.
public struct CPUSignature: Hashable, Sendable {
    /// The CPUID family.
    public let family: Int
    /// The CPUID model.
    public let model: Int
    /// The steppings covered, if the map restricts them (`stepping='5-7'`).
    public let steppings: ClosedRange<Int>?
}

/// A named CPU model of the map (`Haswell-noTSX-IBRS`).
public struct CPUModel: Hashable, Sendable {
    /// The model name.
    public let name: String
    /// The position in the map; libvirt tries models in this order.
    public let index: Int
    /// The vendor name, if the model belongs to one (`qemu64` does not).
    public let vendor: String?
    /// The model this one is defined from (`Haswell-v4` → `Haswell-noTSX-IBRS`), if any.
    public let parent: String?
    /// Whether libvirt may name this model when it describes a host CPU.
    public let decodesHost: Bool
    /// Whether libvirt may name this model when it describes a guest CPU (as in a baseline).
    public let decodesGuest: Bool
    /// The family/model signatures, inherited from the parent where the model has none.
    public let signatures: [CPUSignature]
    /// Processor version register values (ppc64, arm), as written in the map.
    public let processorVersions: [String]
    /// Every feature of the model, including those inherited from its parent,
    /// but not those the map marks `removed='yes'` or `added='yes'`.
    public let features: FeatureSet
    /// Features the map lists with `removed='yes'` ("retired"): QEMU dropped
    /// them from the model. A CPU naming the model does not have them, but
    /// libvirt's baseline still mentions them (see `Baseline`).
    public let retiredFeatures: FeatureSet
    /// The retired features in the order the model's files list them (the
    /// parent's first), which is the order libvirt disables them in.
    public let retiredFeatureOrder: [Int]

    /// A model from its parts.
    ///
    /// - Parameters:
    ///   - name: The model name.
    ///   - index: Its position in its architecture's `models`.
    ///   - vendor: The vendor name, if any.
    ///   - parent: The model it is defined from, if any.
    ///   - decodesHost: Whether libvirt may name it for a host CPU.
    ///   - decodesGuest: Whether libvirt may name it for a guest CPU.
    ///   - signatures: Family/model signatures.
    ///   - processorVersions: PVR values (ppc64, arm).
    ///   - features: Its features, the parent's included.
    ///   - retiredFeatureOrder: Its `removed='yes'` features, in listing order.
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

/// One architecture's part of the CPU map (`x86`, `ppc64`, `arm`).
public struct CPUArchitecture: Hashable, Sendable, CustomStringConvertible {
    /// The map's name for the architecture.
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
        var byName: [String: Int] = [:]
        for feature in features {
            for alias in feature.aliases where byName[alias.name] == nil { byName[alias.name] = feature.index }
        }
        for feature in features { byName[feature.name] = feature.index }
        featureIndexByName = byName
        levelFeatureSets = Self.levelFeatureSets(byName: byName)
        modelIndexByName = Dictionary(models.map { ($0.name, $0.index) }, uniquingKeysWith: { first, _ in first })
    }

    /// The feature called `name` or having it as an alias.
    public func feature(named name: String) -> CPUFeature? {
        featureIndexByName[name].map { features[$0] }
    }

    /// The model called `name`.
    public func model(named name: String) -> CPUModel? {
        modelIndexByName[name].map { models[$0] }
    }

    /// The vendor called `name`.
    public func vendor(named name: String) -> CPUVendor? {
        vendors.first { $0.name == name }
    }

    /// The canonical names of the features in `set`, in map order.
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

    public static func == (lhs: CPUArchitecture, rhs: CPUArchitecture) -> Bool {
        lhs.name == rhs.name && lhs.vendors == rhs.vendors && lhs.features == rhs.features && lhs.models == rhs.models
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(name)
        hasher.combine(features.count)
        hasher.combine(models.count)
    }
}
