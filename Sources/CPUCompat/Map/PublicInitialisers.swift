// Initialisers for a caller that builds architectures, maps and CPUs in code
// rather than reading them from files (the plainer types have theirs in
// their own declarations), with the checks the readers would make.





extension CPUArchitecture {
    /// An architecture from its parts, checked as the map loader checks a map.
    ///
    /// - Parameters:
    ///   - name: The map's name for it (`x86`).
    ///   - vendors: Its vendors.
    ///   - features: Its features; `features[i].index` must be `i`.
    ///   - models: Its models; `models[i].index` must be `i`, and their feature
    ///     sets may hold only indexes of `features`.
    /// - Throws: `CPUCompatError.invalidMap` naming the first entry that breaks a rule.
    public init(validatingName name: String, vendors: [CPUVendor], features: [CPUFeature], models: [CPUModel])
        throws(CPUCompatError) {
        let place = "architecture \(name)"
        if let feature = features.enumerated().first(where: { $0.offset != $0.element.index }) {
            throw .invalidMap(path: place, line: nil, message: "feature \(feature.element.name) has index \(feature.element.index), not its position \(feature.offset)")
        }
        if let model = models.enumerated().first(where: { $0.offset != $0.element.index }) {
            throw .invalidMap(path: place, line: nil, message: "model \(model.element.name) has index \(model.element.index), not its position \(model.offset)")
        }
        for model in models {
            if let outside = model.features.union(model.retiredFeatures).first(where: { $0 >= features.count }) {
                throw .invalidMap(path: place, line: nil, message: "model \(model.name) has feature index \(outside), beyond the \(features.count) features")
            }
            if let vendor = model.vendor, !vendors.contains(where: { $0.name == vendor }) {
                throw .invalidMap(path: place, line: nil, message: "model \(model.name) names vendor \(vendor), which the architecture lacks")
            }
        }
        self.init(name: name, vendors: vendors, features: features, models: models)
    }
}

extension CPUMap {
    /// A map from architectures built in code.
    ///
    /// - Parameters:
    ///   - architectures: Its parts (`x86`, …).
    ///   - libvirtVersion: The libvirt release the map comes from, if known.
    public init(architectures: [CPUArchitecture], libvirtVersion: String? = nil) {
        self.init(origin: .directory("(built in code)"), libvirtVersion: libvirtVersion, provenance: nil, architectures: architectures)
    }
}



extension CPU {
    /// A CPU resolved against `map`, as `map.resolve(definition)` gives it.
    ///
    /// - Parameters:
    ///   - definition: What to resolve.
    ///   - map: The map whose names it uses.
    /// - Throws: `CPUCompatError` for a name the map lacks; see ``CPUMap/resolve(_:)``.
    public init(_ definition: CPUDefinition, in map: CPUMap) throws(CPUCompatError) {
        self = try map.resolve(definition)
    }

    /// A host CPU from a model and feature names, as the bare `<cpu>` of
    /// `virsh capabilities` with these children would read.
    ///
    /// - Parameters:
    ///   - model: The model name (`IvyBridge-IBRS`).
    ///   - vendor: The vendor name (`Intel`), if any.
    ///   - features: The features the host has beyond its model.
    ///   - map: The map whose names they are.
    /// - Throws: `CPUCompatError.unknownModel`, `.unknownFeature` or `.unknownVendor` for a name the map lacks.
    public init(model: String, vendor: String? = nil, features: [String], in map: CPUMap) throws(CPUCompatError) {
        try self.init(CPUDefinition(model: model, vendor: vendor, features: features.map { CPUDefinition.Feature(name: $0) }), in: map)
    }
}
