/// cpucompat's compact text form of a CPU map, used for the built-in map.
///
/// One definition a line, `key=value` fields separated by spaces, model
/// features stored already resolved (parents applied) as hexadecimal
/// bitmaps over the feature order, so loading is a single quick pass:
///
///     cpucompat-cpu-map 1
///     libvirt 9.0.0
///     provenance …free text…
///     arch x86
///     vendor Intel string=GenuineIntel
///     feature sse4.1 alias=sse4-1/qemu cpuid=1/-/ecx/80000
///     feature invtsc nomigrate cpuid=80000007/-/edx/100
///     feature rdctl-no msr=10a/0/1
///     model Haswell vendor=Intel decode=host,guest sig=6/60 sig=6/63 features=…
extension CPUMap {
    static let snapshotHeader = "cpucompat-cpu-map 1"

    /// The map in snapshot form, the input `init(snapshot:)` reads back.
    ///
    /// - Parameters:
    ///   - libvirtVersion: The libvirt release the map comes from, recorded in the snapshot.
    ///   - provenance: A sentence saying where the map was taken from.
    public func snapshot(libvirtVersion: String?, provenance: String?) -> String {
        var lines = [Self.snapshotHeader]
        if let libvirtVersion { lines.append("libvirt \(libvirtVersion)") }
        if let provenance { lines.append("provenance \(provenance)") }
        for architecture in architectures {
            lines.append("arch \(architecture.name)")
            for vendor in architecture.vendors {
                var fields = ["vendor", escape(vendor.name)]
                if let string = vendor.string { fields.append("string=\(escape(string))") }
                if let value = vendor.value { fields.append("value=\(escape(value))") }
                lines.append(fields.joined(separator: " "))
            }
            for feature in architecture.features {
                var fields = ["feature", escape(feature.name)]
                if !feature.isMigratable { fields.append("nomigrate") }
                for alias in feature.aliases { fields.append("alias=\(escape(alias.name))/\(escape(alias.source ?? "-"))") }
                for bit in feature.bits {
                    switch bit {
                    case let .cpuid(leaf, subleaf, register, mask):
                        fields.append("cpuid=\(hex(leaf))/\(subleaf.map(hex) ?? "-")/\(register.rawValue)/\(hex(mask))")
                    case let .msr(index, edx, eax):
                        fields.append("msr=\(hex(index))/\(hex(edx))/\(hex(eax))")
                    }
                }
                lines.append(fields.joined(separator: " "))
            }
            for model in architecture.models {
                var fields = ["model", escape(model.name)]
                if let vendor = model.vendor { fields.append("vendor=\(escape(vendor))") }
                if let parent = model.parent { fields.append("parent=\(escape(parent))") }
                let decode = [model.decodesHost ? "host" : nil, model.decodesGuest ? "guest" : nil].compactMap { $0 }
                fields.append("decode=\(decode.isEmpty ? "-" : decode.joined(separator: ","))")
                for signature in model.signatures {
                    var text = "sig=\(signature.family)/\(signature.model)"
                    if let steppings = signature.steppings { text += "/\(steppings.lowerBound)-\(steppings.upperBound)" }
                    fields.append(text)
                }
                for version in model.processorVersions { fields.append("pvr=\(escape(version))") }
                fields.append("features=\(model.features.hexWords)")
                if !model.removedFeatures.isEmpty { fields.append("removed=\(model.removedFeatures.hexWords)") }
                lines.append(fields.joined(separator: " "))
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Reads a map written by `snapshot(libvirtVersion:provenance:)`.
    ///
    /// - Parameters:
    ///   - text: The snapshot.
    ///   - origin: What to report as the map's origin.
    /// - Throws: `CPUCompatError.invalidMap` naming the line that cannot be read.
    public init(snapshot text: String, origin: Origin = .builtIn) throws(CPUCompatError) {
        var architectures: [CPUArchitecture] = []
        var libvirtVersion: String?
        var provenance: String?
        var current: (name: String, vendors: [CPUVendor], features: [CPUFeature], models: [CPUModel])?
        let source = origin.description

        func finishArchitecture() {
            if let done = current {
                architectures.append(CPUArchitecture(name: done.name, vendors: done.vendors,
                                                     features: done.features, models: done.models))
            }
        }

        var lineNumber = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            if line.isEmpty { continue }
            let bad = CPUCompatError.invalidMap(path: source, line: lineNumber, message: "unreadable snapshot line")
            if lineNumber == 1 {
                guard line == Self.snapshotHeader else { throw bad }
                continue
            }
            let fields = line.split(separator: " ")
            guard fields.count >= 2 else { throw bad }
            let name = unescape(fields[1])
            switch fields[0] {
            case "libvirt":
                libvirtVersion = name
            case "provenance":
                provenance = String(line.dropFirst("provenance ".count))
            case "arch":
                finishArchitecture()
                current = (name, [], [], [])
            case "vendor":
                guard current != nil else { throw bad }
                current?.vendors.append(CPUVendor(name: name, string: Self.field(fields, "string"),
                                                  value: Self.field(fields, "value")))
            case "feature":
                guard let index = current?.features.count else { throw bad }
                var aliases: [CPUFeature.Alias] = []
                var bits: [CPUFeature.Bit] = []
                for field in fields.dropFirst(2) {
                    let (key, value) = Self.split(field)
                    let parts = value.split(separator: "/", omittingEmptySubsequences: false)
                    switch key {
                    case "alias" where parts.count == 2:
                        aliases.append(.init(name: unescape(parts[0]), source: parts[1] == "-" ? nil : unescape(parts[1])))
                    case "cpuid" where parts.count == 4:
                        guard let leaf = UInt32(parts[0], radix: 16), let register = CPUFeature.Register(rawValue: String(parts[2])),
                              let mask = UInt32(parts[3], radix: 16) else { throw bad }
                        let subleaf = parts[1] == "-" ? nil : UInt32(parts[1], radix: 16)
                        bits.append(.cpuid(leaf: leaf, subleaf: subleaf, register: register, mask: mask))
                    case "msr" where parts.count == 3:
                        guard let msr = UInt32(parts[0], radix: 16), let edx = UInt32(parts[1], radix: 16),
                              let eax = UInt32(parts[2], radix: 16) else { throw bad }
                        bits.append(.msr(index: msr, edx: edx, eax: eax))
                    case "nomigrate":
                        continue
                    default:
                        throw bad
                    }
                }
                current?.features.append(CPUFeature(name: name, index: index, aliases: aliases,
                                                    isMigratable: !fields.contains("nomigrate"), bits: bits))
            case "model":
                guard let index = current?.models.count,
                      let featureWords = Self.field(fields, "features"),
                      let features = FeatureSet(hexWords: Substring(featureWords)),
                      let removed = FeatureSet(hexWords: Substring(Self.field(fields, "removed") ?? "")) else { throw bad }
                let decode = Self.field(fields, "decode")?.split(separator: ",") ?? []
                var signatures: [CPUSignature] = []
                for field in fields where field.hasPrefix("sig=") {
                    let parts = field.dropFirst(4).split(separator: "/")
                    guard parts.count >= 2, let family = Int(parts[0]), let number = Int(parts[1]) else { throw bad }
                    var steppings: ClosedRange<Int>?
                    if parts.count == 3 {
                        let bounds = parts[2].split(separator: "-").compactMap { Int($0) }
                        guard bounds.count == 2, bounds[0] <= bounds[1] else { throw bad }
                        steppings = bounds[0]...bounds[1]
                    }
                    signatures.append(CPUSignature(family: family, model: number, steppings: steppings))
                }
                current?.models.append(CPUModel(
                    name: name, index: index, vendor: Self.field(fields, "vendor"), parent: Self.field(fields, "parent"),
                    decodesHost: decode.contains("host"), decodesGuest: decode.contains("guest"),
                    signatures: signatures,
                    processorVersions: fields.filter { $0.hasPrefix("pvr=") }.map { unescape($0.dropFirst(4)) },
                    features: features, removedFeatures: removed))
            default:
                throw bad
            }
        }
        finishArchitecture()
        guard !architectures.isEmpty else {
            throw .invalidMap(path: source, line: nil, message: "the snapshot defines no architecture")
        }
        self.init(origin: origin, libvirtVersion: libvirtVersion, provenance: provenance, architectures: architectures)
    }

    private static func split(_ field: Substring) -> (Substring, Substring) {
        guard let equals = field.firstIndex(of: "=") else { return (field, "") }
        return (field[..<equals], field[field.index(after: equals)...])
    }

    private static func field(_ fields: [Substring], _ key: String) -> String? {
        for field in fields.dropFirst(2) {
            let (name, value) = split(field)
            if name == key { return unescape(value) }
        }
        return nil
    }
}

private func hex(_ value: UInt32) -> String { String(value, radix: 16) }

/// Names may hold spaces (`ThunderX2 99xx`); fields are space-separated.
private func escape(_ name: String) -> String {
    name.replacingAll("%", with: "%25").replacingAll(" ", with: "%20")
}

private func unescape(_ field: Substring) -> String {
    String(field).replacingAll("%20", with: " ").replacingAll("%25", with: "%")
}

extension String {
    /// The string with every occurrence of `target` replaced (Foundation-free).
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard contains(target) else { return self }
        return split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
