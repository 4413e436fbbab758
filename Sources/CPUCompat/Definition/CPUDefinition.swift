/// A CPU as written in one input document, before the CPU map gives its
/// names a meaning: model, vendor and features exactly as read.
public struct CPUDefinition: Hashable, Sendable {
    /// What kind of document the definition came from.
    public enum Source: String, Hashable, Sendable, Codable {
        /// A `<cpu>` element on its own (as `virsh cpu-baseline` prints and reads).
        case cpu
        /// The host `<cpu>` of `virsh capabilities`.
        case capabilities
        /// The host-model `<mode>` of `virsh domcapabilities`.
        case domainCapabilities
        /// The `<cpu>` of a domain (guest) definition.
        case domain
    }

    /// A `<feature>` of the definition.
    public struct Feature: Hashable, Sendable {
        /// A `<feature>` from its parts.
        ///
        /// - Parameters:
        ///   - name: The feature name (an alias is fine).
        ///   - policy: The policy, or nil for a host CPU's feature.
        ///   - line: The line it was read from, for messages.
        public init(name: String, policy: FeaturePolicy? = nil, line: Int = 1) {
            self.name = name
            self.policy = policy
            storedLine = Int32(clamping: line)
        }

        /// The name as written (possibly an alias).
        public var name: String
        /// The policy, or nil where the element has none (host CPUs).
        public var policy: FeaturePolicy?
        /// The line the element is on.
        public var line: Int {
            get { Int(storedLine) }
            set { storedLine = Int32(clamping: newValue) }
        }
        // A fleet file holds millions of features: 24 bytes each instead of 32
        // (no file cpucompat reads has 2^31 lines).
        private var storedLine: Int32
    }

    /// The file the definition was read from (`-` for standard input).
    public var path: String
    /// The line of the `<cpu>` (or host-model `<mode>`) element.
    public var line: Int
    /// The kind of document.
    public var source: Source
    /// The `<arch>` of the CPU, or of the document (domcapabilities), if stated.
    public var arch: String?
    /// The `mode` attribute of a guest `<cpu>` (`custom`, `host-model`, `host-passthrough`, `maximum`).
    public var mode: String?
    /// The `match` attribute of a guest `<cpu>` (`minimum`, `exact`, `strict`).
    public var match: String?
    /// The model name, if any.
    public var model: String?
    /// The model's `fallback` attribute (`allow`, `forbid`), if any.
    public var fallback: String?
    /// The vendor name, if any.
    public var vendor: String?
    /// The features, in document order.
    public var features: [Feature]
    /// The named models a domcapabilities file lists for `custom` mode, with
    /// what the host said about each (empty for other documents).
    public var declaredModels: [DeclaredModel] = []

    /// A model as `virsh domcapabilities` lists it: `<model usable='no' deprecated='yes'>`.
    public struct DeclaredModel: Hashable, Sendable, Codable {
        /// The model name.
        public var name: String
        /// `yes`, `no` or `unknown`, as the file says.
        public var usable: String?
        /// Whether the file marks the model deprecated.
        public var deprecated: Bool
        /// The model this one is an alias or version of, if the file says.
        public var canonical: String?
    }

    /// A definition from its parts, as a `<cpu>` with these children would read.
    ///
    /// - Parameters:
    ///   - path: The name messages give its origin.
    ///   - line: The line messages give it.
    ///   - source: The kind of document it stands for; `.cpu` is a bare `<cpu>`.
    ///   - arch: Its `<arch>` (`x86_64`); nil is taken as x86.
    ///   - mode: A guest CPU's `mode`; nil for a host CPU.
    ///   - match: A guest CPU's `match`; nil for a host CPU.
    ///   - model: The model name.
    ///   - fallback: The model's `fallback`, if any.
    ///   - vendor: The vendor name, if any.
    ///   - features: Its `<feature>` elements, in order.
    public init(path: String = "(built in code)", line: Int = 1, source: Source = .cpu, arch: String? = "x86_64",
                mode: String? = nil, match: String? = nil, model: String?, fallback: String? = nil, vendor: String? = nil,
                features: [Feature] = []) {
        self.path = path
        self.line = line
        self.source = source
        self.arch = arch
        self.mode = mode
        self.match = match
        self.model = model
        self.fallback = fallback
        self.vendor = vendor
        self.features = features
    }

    /// Whether this is a host CPU description (capabilities, or a bare `<cpu>`
    /// with neither `mode` nor `match`), whose features carry no policy.
    public var describesHost: Bool {
        switch source {
        case .capabilities: true
        case .domainCapabilities, .domain: false
        case .cpu: mode == nil && match == nil
        }
    }
}

/// What a guest `<cpu>` asks of a feature.
public enum FeaturePolicy: String, Hashable, Sendable, Codable, CaseIterable {
    /// The guest gets the feature even if the host lacks it.
    case force
    /// The guest needs the feature; the host must have it.
    case require
    /// The guest gets the feature if the host has it.
    case optional
    /// The guest does not get the feature.
    case disable
    /// The guest must not run on a host that has the feature.
    case forbid
}
