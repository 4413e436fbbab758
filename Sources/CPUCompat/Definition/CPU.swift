/// A CPU definition with its names resolved against a CPU map: the model
/// and vendor as map entries, and the features as sets over the map's
/// feature order.
///
/// Its feature set is the model's features (parents included), plus the
/// features the definition adds, minus those it disables:
/// `features = model ∪ added − removed`.
public struct CPU: Hashable, Sendable {
    /// What was read.
    public let definition: CPUDefinition
    /// The map architecture (`x86`).
    public let architecture: String
    /// The named model, if the definition names one.
    public let model: CPUModel?
    /// The vendor, if the definition names one.
    public let vendor: CPUVendor?
    /// Features the definition adds to its model: the features of a host
    /// CPU, and `force`, `require` and `optional` features of a guest.
    public let added: FeatureSet
    /// Features the definition takes away: `disable` and `forbid`.
    public let removed: FeatureSet
    /// Features the guest must not run with (`forbid`), a subset of `removed`.
    public let forbidden: FeatureSet
    /// Features the guest takes only where the host has them (`optional`), a subset of `added`.
    public let optional: FeatureSet
    /// The CPU's features: `model ∪ added − removed`.
    public let features: FeatureSet

    /// What a guest with this CPU needs of its host: its features, less the
    /// `optional` ones that its model does not already include (an optional
    /// feature the model has is needed like any other feature of the model).
    public var required: FeatureSet { features.subtracting(optional.subtracting(model?.features ?? FeatureSet())) }

    /// The file and line the CPU was read from, for messages.
    public var location: String { "\(definition.path):\(definition.line)" }
}

extension CPUMap {
    /// Resolves the names in `definition` against this map.
    ///
    /// - Parameter definition: What was read.
    /// - Returns: The CPU, its model, vendor and features as map entries.
    /// - Throws: `CPUCompatError.unknownModel`, `.unknownFeature` or
    ///   `.unknownVendor` naming the definition's file and line, or
    ///   `.invalidCPU` for an architecture the map does not have.
    public func resolve(_ definition: CPUDefinition) throws(CPUCompatError) -> CPU {
        let archName = definition.arch.map { CPUMap.architectureName(forCPUArch: $0) ?? $0 } ?? "x86"
        guard let architecture = architecture(named: archName) else {
            throw .invalidCPU(path: definition.path, line: definition.line,
                              message: "the CPU map has no architecture \(definition.arch ?? archName)")
        }
        var model: CPUModel?
        if let name = definition.model {
            guard let found = architecture.model(named: name) else {
                throw .unknownModel(name: name, path: definition.path, line: definition.line,
                                    hint: hint(forUnknownModel: name)
                                        ?? didYouMean(name, among: architecture.models.map(\.name)))
            }
            model = found
        }
        var vendor: CPUVendor?
        if let name = definition.vendor {
            guard let found = architecture.vendor(named: name) else {
                throw .unknownVendor(name: name, path: definition.path, line: definition.line)
            }
            vendor = found
        }
        var added = FeatureSet()
        var removed = FeatureSet()
        var forbidden = FeatureSet()
        var optional = FeatureSet()
        for feature in definition.features {
            guard let index = architecture.featureIndex(named: feature.name) else {
                throw .unknownFeature(name: feature.name, path: definition.path, line: feature.line,
                                      hint: hint(forUnknownFeature: feature.name)
                                          ?? didYouMean(feature.name, among: architecture.features.map(\.name)))
            }
            guard !added.contains(index), !removed.contains(index) else {
                throw .invalidCPU(path: definition.path, line: feature.line,
                                  message: "CPU feature '\(feature.name)' specified more than once")
            }
            switch feature.policy {
            case nil, .force, .require:
                added.insert(index)
            case .optional:
                added.insert(index)
                optional.insert(index)
            case .disable:
                removed.insert(index)
            case .forbid:
                removed.insert(index)
                forbidden.insert(index)
            }
        }
        var features = model?.features ?? FeatureSet()
        features.formUnion(added)
        features.subtract(removed)
        return CPU(definition: definition, architecture: archName, model: model, vendor: vendor,
                   added: added, removed: removed, forbidden: forbidden, optional: optional, features: features)
    }

    /// Reads and resolves every CPU in the file at `path` (`-` for standard input).
    ///
    /// - Parameter path: The file, or `-` for standard input.
    /// - Returns: The CPUs in file order.
    /// - Throws: `CPUCompatError` naming the file and the problem.
    public func readCPUs(contentsOf path: String) throws(CPUCompatError) -> [CPU] {
        var cpus: [CPU] = []
        for definition in try CPUDefinitionReader.read(contentsOf: path) {
            cpus.append(try resolve(definition))
        }
        return cpus
    }
}

extension CPUMap {
    /// Reads and resolves the one CPU in the file at `path`.
    ///
    /// - Parameter path: The file, or `-` for standard input.
    /// - Returns: The CPU.
    /// - Throws: `CPUCompatError.invalidCPU` when the file holds more than one CPU,
    ///   or any error of `readCPUs(contentsOf:)`.
    public func readSingleCPU(contentsOf path: String) throws(CPUCompatError) -> CPU {
        try Self.single(readCPUs(contentsOf: path), path: path)
    }

    /// The one CPU of `cpus`, read from `path`.
    static func single(_ cpus: [CPU], path: String) throws(CPUCompatError) -> CPU {
        guard cpus.count == 1, let cpu = cpus.first else {
            throw .invalidCPU(path: path, line: cpus.dropFirst().first?.definition.line,
                              message: "holds \(cpus.count) CPUs; one is expected here")
        }
        return cpu
    }
}

extension CPUDefinition {
    /// Why this definition cannot stand for a host's CPU, or nil if it can.
    /// A domain definition describes a guest; a host-model, host-passthrough
    /// or maximum `<cpu>` has no features of its own (they come from the host
    /// it runs on), so reading it as a host would make a CPU with no features.
    public var notAHostReason: String? {
        let instead = "give the host's `virsh capabilities` or `virsh domcapabilities` output"
        if source == .domain {
            return "is a guest's domain definition, not a host's CPU: \(instead)"
        }
        if source == .cpu, let mode, mode != "custom" {
            return "is a guest CPU in mode '\(mode)', whose features come from the host it starts on, not a host's CPU: \(instead)"
        }
        return nil
    }
}

extension CPUMap {
    /// Reads and resolves every host CPU in the file at `path` (`-` for
    /// standard input): capabilities, domcapabilities and `<cpu>` elements,
    /// one document or several concatenated.
    ///
    /// - Parameter path: The file.
    /// - Returns: The CPUs in document order.
    /// - Throws: `CPUCompatError.notAHost` for a guest definition (a domain,
    ///   or a host-model `<cpu>`), or any error of `readCPUs(contentsOf:)`.
    public func readHostCPUs(contentsOf path: String) throws(CPUCompatError) -> [CPU] {
        let definitions = try CPUDefinitionReader.read(contentsOf: path)
        for definition in definitions {
            if let reason = definition.notAHostReason {
                throw .notAHost(path: definition.path, line: definition.source == .domain ? nil : definition.line,
                                reason: reason)
            }
        }
        var cpus: [CPU] = []
        cpus.reserveCapacity(definitions.count)
        for definition in definitions { cpus.append(try resolve(definition)) }
        return cpus
    }

    /// Reads the one host CPU in the file at `path`.
    ///
    /// - Parameter path: The file.
    /// - Returns: The CPU.
    /// - Throws: `CPUCompatError.invalidCPU` when the file holds more than one
    ///   CPU, or any error of `readHostCPUs(contentsOf:)`.
    public func readSingleHostCPU(contentsOf path: String) throws(CPUCompatError) -> CPU {
        try Self.single(readHostCPUs(contentsOf: path), path: path)
    }
}

/// "did you mean Haswell, Haswell-IBRS?" for a misspelt name, or nil.
private func didYouMean(_ name: String, among names: [String]) -> String? {
    let nearest = NearestNames.nearest(to: name, in: names)
    return nearest.isEmpty ? nil : "did you mean \(nearest.joined(separator: ", "))?"
}
