/// Loads a CPU map from libvirt's XML: a `cpu_map` folder (an `index.xml`
/// naming per-architecture files) or a legacy single `cpu_map.xml`.
///
/// Checks are strict, in the spirit of libvirt's own loader: a duplicate
/// vendor, feature or model, a model naming an unknown feature, vendor or
/// parent, or an include that leaves the folder is an error naming the file
/// and line.
extension CPUMap {
    /// Loads the map in folder `path` (which holds `index.xml`), the legacy
    /// map file `path`, or a snapshot file written by `cpucompat map --snapshot`,
    /// using a built-in map or the user's cache for a folder where they hold
    /// it compiled (see ``init(contentsOf:usingSnapshots:)``).
    ///
    /// - Parameter path: A `cpu_map` folder, a legacy `cpu_map.xml`, or a snapshot file.
    /// - Throws: ``CPUCompatError`` naming the file (and line) and the problem.
    public init(contentsOf path: String) throws(CPUCompatError) {
        try self.init(contentsOf: path, usingSnapshots: true)
    }

    /// Loads a map. With `usingSnapshots`, a folder is parsed only when it
    /// must be: one whose files are byte for byte those a built-in map was
    /// made from is that built-in map, already compiled (libvirt 12.9's 205
    /// files cost some 15 ms to parse on every run), and any other folder is
    /// parsed once and then read from the user's cache (`CPUMapCache`).
    /// A file is always read as it is.
    ///
    /// - Parameters:
    ///   - path: A `cpu_map` folder, a legacy `cpu_map.xml`, or a snapshot file.
    ///   - usingSnapshots: False to parse a folder's XML whatever the built-in
    ///     maps and the cache hold (the exporter does, to make a built-in map).
    /// - Throws: ``CPUCompatError`` naming the file (and line) and the problem:
    ///   a folder without `index.xml`, malformed XML, or a map that breaks
    ///   libvirt's rules (a duplicate definition, an unknown feature, vendor
    ///   or parent model, an include outside the folder).
    public init(contentsOf path: String, usingSnapshots: Bool) throws(CPUCompatError) {
        try self.init(contentsOf: path, usingSnapshots: usingSnapshots, cache: .user)
    }

    init(contentsOf path: String, usingSnapshots: Bool, cache: CPUMapCache) throws(CPUCompatError) {
        if FileSystem.isDirectory(path) {
            let index = FileSystem.join(path, "index.xml")
            guard FileSystem.exists(index) else {
                throw .unreadable(path: path, reason: "not a CPU map folder (it has no index.xml)")
            }
            let fingerprint = try CPUMap.fingerprint(ofFolder: path, cache: usingSnapshots ? cache : nil)
            let origin = Origin.directory(path)
            if usingSnapshots {
                if let builtIn = BuiltInCPUMap.all.first(where: { $0.fingerprint == fingerprint }),
                   var map = try? builtIn.load() {
                    map.origin = origin
                    self = map
                    return
                }
                if let cached = cache.load(fingerprint: fingerprint, origin: origin) {
                    self = cached
                    return
                }
            }
            self = try CPUMapLoader(folder: path).load(file: index, origin: origin)
            folderFingerprint = fingerprint
            if usingSnapshots { cache.store(self) }
        } else {
            let bytes = try FileSystem.read(path)
            if bytes.starts(with: Array(CPUMap.snapshotHeaderVersion1.utf8.dropLast())) {
                self = try CPUMap(snapshot: String(decoding: bytes, as: UTF8.self), origin: .legacyFile(path))
                return
            }
            let folder = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
            self = try CPUMapLoader(folder: folder).load(file: path, origin: .legacyFile(path))
        }
    }
}

extension CPUMap {
    /// A fingerprint of a map folder: `FNV1a64` over the names, sizes and
    /// bytes of its `*.xml` files in name order. Equal fingerprints mean, short of a
    /// deliberate collision, the same files and so the same map.
    ///
    /// With a `cache`, it is taken from there while none of the files has
    /// changed since it was recorded (see `CPUMapCache.FolderStamps`), else
    /// computed from the files and recorded.
    ///
    /// Reading every file of a map folder on every run (libvirt 12.9 has 205)
    /// was most of what using the installed map cost; looking at their
    /// `stat` is a fraction of it.
    static func fingerprint(ofFolder path: String, cache: CPUMapCache? = nil) throws(CPUCompatError) -> String {
        let names = try FileSystem.contents(ofDirectory: path).filter { $0.hasSuffix(".xml") }
        // Without a cache folder the stamps could be neither looked up nor kept.
        let stamps = cache.flatMap { $0.folder == nil ? nil : CPUMapCache.FolderStamps(folder: path, names: names, settlingTime: $0.settlingTime) }
        if let cache, let stamps, let known = cache.fingerprint(of: stamps) { return known }
        var hash = FNV1a64()
        for name in names {
            hash.mix(Array(name.utf8))
            hash.mix(try FileSystem.read(FileSystem.join(path, name)))
        }
        if let cache, let stamps { cache.store(hash.hex, of: stamps) }
        return hash.hex
    }
}

private struct CPUMapLoader {
    let folder: String
    private var architectures: [ArchitectureBuilder] = []

    init(folder: String) { self.folder = folder }

    consuming func load(file: String, origin: CPUMap.Origin) throws(CPUCompatError) -> CPUMap {
        let document = try XMLDocument.parse(FileSystem.read(file), path: file)
        guard let root = document.root, root.name == "cpus" else {
            throw .invalidMap(path: file, line: document.root?.line, message: "not a CPU map (the root element is not <cpus>)")
        }
        for element in root.children where element.name == "arch" {
            guard let name = element.attribute("name") else {
                throw .invalidMap(path: file, line: element.line, message: "<arch> has no name")
            }
            let position = architectures.firstIndex { $0.name == name } ?? {
                architectures.append(ArchitectureBuilder(name: name))
                return architectures.count - 1
            }()
            try architectures[position].add(childrenOf: element, folder: folder)
        }
        guard !architectures.isEmpty else {
            throw .invalidMap(path: file, line: root.line, message: "the CPU map defines no architecture")
        }
        var result: [CPUArchitecture] = []
        for builder in architectures { result.append(try builder.build()) }
        return CPUMap(origin: origin, libvirtVersion: nil, provenance: nil, architectures: result)
    }
}

/// Collects one architecture's definitions in map order, then resolves models.
private struct ArchitectureBuilder {
    let name: String
    var vendors: [CPUVendor] = []
    var features: [CPUFeature] = []
    var featureIndexByName: [String: Int] = [:]
    var models: [PendingModel] = []
    var modelPositionByName: [String: Int] = [:]
    /// The files being included, to refuse an include loop.
    var including: Set<String> = []

    struct PendingModel {
        var name: String
        var vendor: String?
        var parent: String?
        var decodesHost: Bool?
        var decodesGuest: Bool?
        var signatures: [CPUSignature] = []
        var processorVersions: [String] = []
        var featureNames: [(name: String, line: Int, status: FeatureStatus)] = []
        var path: String
        var line: Int
    }

    /// How a model's `<feature>` element relates the feature to the model.
    enum FeatureStatus {
        /// Part of the model.
        case member
        /// `removed='yes'`: QEMU dropped it from the model (retired).
        case retired
        /// `added='yes'` (libvirt 10.2 on): listed for QEMU's sake, but
        /// libvirt counts it as part of neither this model nor those that
        /// inherit from it.
        case addedLater
    }

    init(name: String) { self.name = name }

    mutating func add(childrenOf parent: XMLElement, folder: String) throws(CPUCompatError) {
        let path = parent.document.path
        for element in parent.children {
            switch element.name {
            case "include":
                guard let file = element.attribute("filename"), !file.isEmpty else {
                    throw .invalidMap(path: path, line: element.line, message: "<include> has no filename")
                }
                guard !file.contains("/"), file != "..", file != "." else {
                    throw .invalidMap(path: path, line: element.line,
                                      message: "include '\(file)' points outside the CPU map folder")
                }
                let included = FileSystem.join(folder, file)
                guard !including.contains(included) else {
                    throw .invalidMap(path: path, line: element.line, message: "include '\(file)' makes a loop")
                }
                let bytes: [UInt8]
                do {
                    bytes = try FileSystem.read(included)
                } catch {
                    guard case let .unreadable(_, reason) = error else { throw error }
                    throw .invalidMap(path: path, line: element.line, message: "include '\(file)': \(reason)")
                }
                let document = try XMLDocument.parse(bytes, path: included)
                guard let root = document.root, root.name == "cpus" else {
                    throw .invalidMap(path: included, line: document.root?.line,
                                      message: "not a CPU map file (the root element is not <cpus>)")
                }
                including.insert(included)
                defer { including.remove(included) }
                try add(childrenOf: root, folder: folder)
            case "group":
                try add(childrenOf: element, folder: folder)
            case "vendor":
                try addVendor(element)
            case "feature":
                try addFeature(element)
            case "model":
                try addModel(element)
            default:
                continue
            }
        }
    }

    private mutating func addVendor(_ element: XMLElement) throws(CPUCompatError) {
        guard let name = element.attribute("name") else {
            throw .invalidMap(path: element.document.path, line: element.line, message: "<vendor> has no name")
        }
        guard !vendors.contains(where: { $0.name == name }) else {
            throw .invalidMap(path: element.document.path, line: element.line, message: "CPU vendor \(name) is defined twice")
        }
        vendors.append(CPUVendor(name: name, string: element.attribute("string"), value: element.attribute("value")))
    }

    private mutating func addFeature(_ element: XMLElement) throws(CPUCompatError) {
        let path = element.document.path
        guard let name = element.attribute("name") else {
            throw .invalidMap(path: path, line: element.line, message: "<feature> has no name")
        }
        var aliases: [CPUFeature.Alias] = []
        var bits: [CPUFeature.Bit] = []
        for child in element.children {
            switch child.name {
            case "alias":
                guard let alias = child.attribute("name") else {
                    throw .invalidMap(path: path, line: child.line, message: "an alias of feature \(name) has no name")
                }
                aliases.append(CPUFeature.Alias(name: alias, source: child.attribute("source")))
            case "cpuid":
                guard let leaf = try number(child, "eax_in") else {
                    throw .invalidMap(path: path, line: child.line, message: "<cpuid> of feature \(name) has no eax_in")
                }
                let subleaf = try number(child, "ecx_in")
                for register in CPUFeature.Register.allCases {
                    if let mask = try number(child, register.rawValue), mask != 0 {
                        bits.append(.cpuid(leaf: leaf, subleaf: subleaf, register: register, mask: mask))
                    }
                }
            case "msr":
                guard let index = try number(child, "index") else {
                    throw .invalidMap(path: path, line: child.line, message: "<msr> of feature \(name) has no index")
                }
                bits.append(.msr(index: index, edx: try number(child, "edx") ?? 0, eax: try number(child, "eax") ?? 0))
            default:
                continue
            }
        }
        for taken in [name] + aliases.map(\.name) where featureIndexByName[taken] != nil {
            throw .invalidMap(path: path, line: element.line, message: "CPU feature \(taken) is defined twice")
        }
        let feature = CPUFeature(name: name, index: features.count, aliases: aliases,
                                 isMigratable: element.attribute("migratable") != "no", bits: bits)
        featureIndexByName[name] = feature.index
        for alias in aliases { featureIndexByName[alias.name] = feature.index }
        features.append(feature)
    }

    private mutating func addModel(_ element: XMLElement) throws(CPUCompatError) {
        let path = element.document.path
        guard let name = element.attribute("name") else {
            throw .invalidMap(path: path, line: element.line, message: "<model> has no name")
        }
        guard modelPositionByName[name] == nil else {
            throw .invalidMap(path: path, line: element.line, message: "CPU model \(name) is defined twice")
        }
        var model = PendingModel(name: name, path: path, line: element.line)
        for child in element.children {
            switch child.name {
            case "vendor":
                model.vendor = child.attribute("name")
            case "model":
                model.parent = child.attribute("name")
            case "decode":
                model.decodesHost = child.attribute("host").map { $0 == "on" }
                model.decodesGuest = child.attribute("guest").map { $0 == "on" }
            case "signature":
                guard let family = try number(child, "family"), let number = try number(child, "model") else {
                    throw .invalidMap(path: path, line: child.line, message: "a signature of model \(name) lacks family or model")
                }
                model.signatures.append(CPUSignature(family: Int(family), model: Int(number),
                                                     steppings: try steppings(child)))
            case "pvr":
                if let value = child.attribute("value") { model.processorVersions.append(value) }
            case "feature":
                guard let feature = child.attribute("name") else {
                    throw .invalidMap(path: path, line: child.line, message: "a feature of model \(name) has no name")
                }
                let status: FeatureStatus = child.attribute("removed") == "yes" ? .retired
                    : child.attribute("added") == "yes" ? .addedLater : .member
                model.featureNames.append((feature, child.line, status))
            default:
                continue
            }
        }
        modelPositionByName[name] = models.count
        models.append(model)
    }

    func build() throws(CPUCompatError) -> CPUArchitecture {
        var resolved: [CPUModel?] = Array(repeating: nil, count: models.count)
        for position in models.indices {
            var visiting: Set<Int> = []
            _ = try resolve(position, into: &resolved, visiting: &visiting)
        }
        return CPUArchitecture(name: name, vendors: vendors, features: features, models: resolved.compactMap { $0 })
    }

    private func resolve(_ position: Int, into resolved: inout [CPUModel?],
                         visiting: inout Set<Int>) throws(CPUCompatError) -> CPUModel {
        if let done = resolved[position] { return done }
        let pending = models[position]
        guard visiting.insert(position).inserted else {
            throw .invalidMap(path: pending.path, line: pending.line, message: "CPU model \(pending.name) inherits from itself")
        }
        var parent: CPUModel?
        if let parentName = pending.parent {
            guard let parentPosition = modelPositionByName[parentName] else {
                throw .invalidMap(path: pending.path, line: pending.line,
                                  message: "CPU model \(pending.name) inherits from unknown model \(parentName)")
            }
            parent = try resolve(parentPosition, into: &resolved, visiting: &visiting)
        }
        let vendor = pending.vendor ?? parent?.vendor
        // A map part without any <vendor> (newer ppc64 parts) names vendors freely.
        if let vendor, !vendors.isEmpty, !vendors.contains(where: { $0.name == vendor }) {
            throw .unknownVendor(name: vendor, path: pending.path, line: pending.line)
        }
        var features = parent?.features ?? FeatureSet()
        var retired = parent?.retiredFeatureOrder ?? []
        for (feature, line, status) in pending.featureNames {
            guard let index = featureIndexByName[feature] else {
                throw .unknownFeature(name: feature, path: pending.path, line: line)
            }
            switch status {
            case .member: features.insert(index)
            case .retired where !retired.contains(index): retired.append(index)
            case .retired, .addedLater: continue
            }
        }
        let model = CPUModel(
            name: pending.name, index: position, vendor: vendor, parent: pending.parent,
            decodesHost: pending.decodesHost ?? true, decodesGuest: pending.decodesGuest ?? true,
            signatures: pending.signatures.isEmpty ? parent?.signatures ?? [] : pending.signatures,
            processorVersions: pending.processorVersions.isEmpty ? parent?.processorVersions ?? [] : pending.processorVersions,
            features: features, retiredFeatureOrder: retired)
        resolved[position] = model
        return model
    }

    private func number(_ element: XMLElement, _ attribute: String) throws(CPUCompatError) -> UInt32? {
        guard let text = element.attribute(attribute) else { return nil }
        let value = text.hasPrefix("0x") || text.hasPrefix("0X") ? UInt32(text.dropFirst(2), radix: 16) : UInt32(text)
        guard let value else {
            throw .invalidMap(path: element.document.path, line: element.line,
                              message: "\(attribute)='\(text)' is not a number")
        }
        return value
    }

    private func steppings(_ element: XMLElement) throws(CPUCompatError) -> ClosedRange<Int>? {
        guard let text = element.attribute("stepping") else { return nil }
        let bounds = text.split(separator: "-").map { Int($0) }
        switch bounds.count {
        case 1: if let low = bounds[0] { return low...low }
        case 2: if let low = bounds[0], let high = bounds[1], low <= high { return low...high }
        default: break
        }
        throw .invalidMap(path: element.document.path, line: element.line, message: "stepping='\(text)' is not a number or range")
    }
}
