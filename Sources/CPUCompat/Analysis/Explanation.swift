/// What the CPU map says about a feature or a model, for `cpucompat explain`.
public enum Explanation: Hashable, Sendable, Codable {
    /// A feature, asked for by its name or an alias.
    case feature(FeatureExplanation)
    /// A model.
    case model(ModelExplanation)

    /// Encodes the feature's or the model's fields alone, with no wrapper
    /// around them: their `kind` field tells which it is.
    ///
    /// - Parameter encoder: The encoder to write to.
    /// - Throws: What the encoder throws.
    public func encode(to encoder: any Encoder) throws {
        switch self {
        case let .feature(feature): try feature.encode(to: encoder)
        case let .model(model): try model.encode(to: encoder)
        }
    }

    /// Decodes what ``encode(to:)`` wrote: a model if its `kind` is `model`,
    /// else a feature.
    ///
    /// - Parameter decoder: The decoder to read from.
    /// - Throws: `DecodingError` when the fields are neither a model's nor a feature's.
    public init(from decoder: any Decoder) throws {
        if let model = try? ModelExplanation(from: decoder), model.kind == "model" {
            self = .model(model)
        } else {
            self = .feature(try FeatureExplanation(from: decoder))
        }
    }
}

/// A feature: where its bit is, its other names, and which models have it.
public struct FeatureExplanation: Hashable, Sendable, Codable {
    /// `feature`: tells a feature from a model in JSON.
    public var kind = "feature"
    /// The canonical name, also when the feature was asked for by an alias.
    public var name: String
    /// Its other names, in map order.
    public var aliases: [String]
    /// False when the map marks it `migratable='no'`: a guest with it cannot be live-migrated.
    public var migratable: Bool
    /// `CPUID leaf 0x7 subleaf 0x0 EBX bit 5`, or `MSR 0x10a EAX bit 0`, one
    /// per bit in map order; empty where the map gives no register encoding (arm).
    public var location: [String]
    /// The first model in map order that has it; nil when no model has it.
    public var oldestModel: String?
    /// Every model that has it, in map order.
    public var models: [String]
}

/// A model: vendor, parent, signatures, features, and what it adds over its predecessor.
public struct ModelExplanation: Hashable, Sendable, Codable {
    /// `model`: tells a model from a feature in JSON.
    public var kind = "model"
    /// The model name.
    public var name: String
    /// Its vendor; nil for a vendor-neutral model (`qemu64`).
    public var vendor: String?
    /// The model it is defined from, if any.
    public var parent: String?
    /// For a version that only renames another model (the same features as
    /// its parent, `Haswell-v4`), the model at the end of that chain.
    public var canonical: String?
    /// `family 6 model 60`, `family 6 model 85 stepping 5-7`, in map order.
    public var signatures: [String]
    /// Its features, parents' included and retired ones not, in map order.
    public var features: [String]
    /// The x86-64 level its features reach, if any.
    public var level: MicroarchitectureLevel?
    /// The last model before it in the map with the same vendor (or, for a
    /// vendor-neutral model, likewise none) that libvirt may name for a
    /// guest; nil if there is none.
    public var previousModel: String?
    /// Features it has that the previous model lacks, in map order.
    public var addedFeatures: [String]
    /// Features the previous model has that it lacks, in map order.
    public var removedFeatures: [String]
}

extension CPUArchitecture {
    /// Explains `name`: the model of that name if there is one, else the
    /// feature of that name or alias.
    ///
    /// - Parameter name: A model or feature name (or alias), case-sensitive.
    /// - Returns: What the map says of it.
    /// - Throws: ``CPUCompatError/unknownName(name:nearest:hint:)`` when the
    ///   architecture knows neither, with up to three of the nearest model,
    ///   feature and alias names it does know.
    public func explain(_ name: String) throws(CPUCompatError) -> Explanation {
        if let model = model(named: name) {
            let previous = models[..<model.index].last { $0.vendor == model.vendor && $0.decodesGuest }
            return .model(ModelExplanation(
                name: model.name, vendor: model.vendor, parent: model.parent, canonical: canonicalName(of: model),
                signatures: model.signatures.map { signature in
                    var text = "family \(signature.family) model \(signature.model)"
                    if let steppings = signature.steppings {
                        text += steppings.count == 1 ? " stepping \(steppings.lowerBound)" : " stepping \(steppings.lowerBound)-\(steppings.upperBound)"
                    }
                    return text
                },
                features: names(of: model.features), level: level(of: model.features), previousModel: previous?.name,
                addedFeatures: previous.map { names(of: model.features.subtracting($0.features)) } ?? [],
                removedFeatures: previous.map { names(of: $0.features.subtracting(model.features)) } ?? []))
        }
        guard let feature = feature(named: name) else {
            let known = models.map(\.name) + features.flatMap { [$0.name] + $0.aliases.map(\.name) }
            throw .unknownName(name: name, nearest: NearestNames.nearest(to: name, in: known))
        }
        let having = models.filter { $0.features.contains(feature.index) }
        return .feature(FeatureExplanation(
            name: feature.name, aliases: feature.aliases.map(\.name), migratable: feature.isMigratable,
            location: feature.bits.map(Self.describe), oldestModel: having.first?.name, models: having.map(\.name)))
    }

    private static func describe(_ bit: CPUFeature.Bit) -> String {
        switch bit {
        case let .cpuid(leaf, subleaf, register, mask):
            let subleafText = subleaf.map { " subleaf 0x\(String($0, radix: 16))" } ?? ""
            return "CPUID leaf 0x\(String(leaf, radix: 16))\(subleafText) \(register.rawValue.uppercased()) \(bitList(mask))"
        case let .msr(index, edx, eax):
            var parts: [String] = []
            if eax != 0 { parts.append("EAX \(bitList(eax))") }
            if edx != 0 { parts.append("EDX \(bitList(edx))") }
            return "MSR 0x\(String(index, radix: 16)) " + parts.joined(separator: " ")
        }
    }

    private static func bitList(_ mask: UInt32) -> String {
        let bits = (0..<32).filter { mask & (1 << UInt32($0)) != 0 }.map(String.init)
        return (bits.count == 1 ? "bit " : "bits ") + bits.joined(separator: ",")
    }
}

extension CPUMap {
    /// Explains `name` with the map's x86 part; a name the map lacks but
    /// another release's built-in map defines gets a hint saying so.
    ///
    /// - Parameter name: A model or feature name (or alias).
    /// - Returns: What the map says of it.
    /// - Throws: ``CPUCompatError/unknownName(name:nearest:hint:)`` (with the
    ///   nearest names and the hint), or ``CPUCompatError/invalidMap(path:line:message:)``
    ///   for a map without an x86 part.
    public func explain(_ name: String) throws(CPUCompatError) -> Explanation {
        guard let x86 else { throw .invalidMap(path: origin.description, line: nil, message: "the CPU map has no x86 part") }
        do {
            return try x86.explain(name)
        } catch {
            guard case let .unknownName(name, nearest, _) = error else { throw error }
            throw .unknownName(name: name, nearest: nearest, hint: hint(forUnknownModel: name) ?? hint(forUnknownFeature: name))
        }
    }
}
