#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// cpucompat's compact text form of a CPU map, used for the built-in map.
///
/// One definition a line, `key=value` fields separated by spaces, model
/// features stored already resolved (parents applied) as hexadecimal
/// bitmaps over the feature order, and retired features as the list of
/// their indices in disabling order, so loading is a single quick pass:
///
///     cpucompat-cpu-map 2
///     libvirt 12.9.0
///     provenance …free text…
///     fingerprint 71b0…        (of the folder it was made from; see `fingerprint(ofFolder:)`)
///     arch x86
///     vendor Intel string=GenuineIntel
///     feature sse4.1 alias=sse4-1/qemu alias=sse4_1/qemu cpuid=1/-/ecx/80000
///     feature invtsc nomigrate cpuid=80000007/-/edx/100
///     feature rdctl-no msr=10a/0/1
///     model Skylake-Client vendor=Intel decode=host,guest sig=6/94 sig=6/78 … features=… retired=75
extension CPUMap {
    static let snapshotHeader = "cpucompat-cpu-map 2"
    /// Version 1 (cpucompat before libvirt 11.3 support) stored retired
    /// features as a set, `removed=<hexWords>`; it is still read.
    static let snapshotHeaderVersion1 = "cpucompat-cpu-map 1"

    /// The map in snapshot form, the input ``init(snapshot:origin:)`` reads back.
    ///
    /// - Parameters:
    ///   - libvirtVersion: The libvirt version the map comes from, recorded in
    ///     the snapshot; nil to record none.
    ///   - provenance: A sentence saying where the map was taken from; nil to record none.
    /// - Returns: The snapshot text, in the current format (version 2), ending in a line break.
    public func snapshot(libvirtVersion: String?, provenance: String?) -> String {
        var lines = [Self.snapshotHeader]
        if let libvirtVersion { lines.append("libvirt \(libvirtVersion)") }
        if let provenance { lines.append("provenance \(provenance)") }
        if let folderFingerprint { lines.append("fingerprint \(folderFingerprint)") }
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
                if !model.retiredFeatureOrder.isEmpty {
                    fields.append("retired=\(model.retiredFeatureOrder.map(String.init).joined(separator: ","))")
                }
                lines.append(fields.joined(separator: " "))
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Reads a map written by ``snapshot(libvirtVersion:provenance:)``, in
    /// the current format or version 1's.
    ///
    /// - Parameters:
    ///   - text: The snapshot.
    ///   - origin: What to report as the map's origin (and to name in errors).
    /// - Throws: ``CPUCompatError/invalidMap(path:line:message:)`` naming the
    ///   line that cannot be read, or saying that the snapshot defines no architecture.
    public init(snapshot text: String, origin: Origin) throws(CPUCompatError) {
        // The built-in map is read on every run: this works on bytes, making
        // a String only for each name it keeps.
        let bytes = Array(text.utf8)
        var architectures: [CPUArchitecture] = []
        var libvirtVersion: String?
        var provenance: String?
        var fingerprint: String?
        // The architecture being read; plain locals, so appends never copy.
        var currentName: String?
        var vendors: [CPUVendor] = []
        var features: [CPUFeature] = []
        var models: [CPUModel] = []

        func finishArchitecture() {
            if let name = currentName {
                architectures.append(CPUArchitecture(name: name, vendors: vendors, features: features, models: models))
            }
            vendors = []
            features = []
            models = []
        }

        // One buffer each for a line's fields and attributes, reused line
        // after line: the built-in map is ~600 lines read on every run.
        var fields: [ArraySlice<UInt8>] = []
        var attributes: [SnapshotField] = []
        var parts: [ArraySlice<UInt8>] = []
        var lineNumber = 0
        var lineStart = bytes.startIndex
        while lineStart < bytes.endIndex {
            let lineEnd = bytes[lineStart...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.endIndex
            let line = bytes[lineStart..<lineEnd]
            lineStart = lineEnd + 1
            lineNumber += 1
            if line.isEmpty { continue }
            // Made only when needed: the description is a String, and there are hundreds of lines.
            func bad() -> CPUCompatError {
                .invalidMap(path: origin.description, line: lineNumber, message: "unreadable snapshot line")
            }
            if lineNumber == 1 {
                guard line.elementsEqual(Self.snapshotHeader.utf8) || line.elementsEqual(Self.snapshotHeaderVersion1.utf8) else {
                    throw bad()
                }
                continue
            }
            split(line, UInt8(ascii: " "), into: &fields, omittingEmpty: true)
            guard fields.count >= 2 else { throw bad() }
            let name = unescape(fields[1])
            attributes.removeAll(keepingCapacity: true)
            for field in fields.dropFirst(2) { attributes.append(SnapshotField(field)) }
            func value(_ key: StaticString) -> ArraySlice<UInt8>? { attributes.first { $0.key.is(key) }?.value }
            func string(_ key: StaticString) -> String? { value(key).map(unescape) }

            switch SnapshotKeyword(fields[0]) {
            case .libvirt:
                libvirtVersion = name
            case .provenance:
                provenance = String(decoding: line.dropFirst("provenance ".utf8.count), as: UTF8.self)
            case .fingerprint:
                fingerprint = name
            case .arch:
                finishArchitecture()
                currentName = name
            case .vendor:
                guard currentName != nil else { throw bad() }
                vendors.append(CPUVendor(name: name, string: string("string"), value: string("value")))
            case .feature:
                guard currentName != nil else { throw bad() }
                let index = features.count
                var aliases: [CPUFeature.Alias] = []
                var bits: [CPUFeature.Bit] = []
                var migratable = true
                for attribute in attributes {
                    split(attribute.value, UInt8(ascii: "/"), into: &parts)
                    switch attribute.key {
                    case let key where key.is("alias") && parts.count == 2:
                        aliases.append(.init(name: unescape(parts[0]), source: parts[1].is("-") ? nil : unescape(parts[1])))
                    case let key where key.is("cpuid") && parts.count == 4:
                        guard let leaf = hexNumber(parts[0]), let mask = hexNumber(parts[3]),
                              let register = CPUFeature.Register(rawValue: String(decoding: parts[2], as: UTF8.self)) else { throw bad() }
                        bits.append(.cpuid(leaf: leaf, subleaf: hexNumber(parts[1]), register: register, mask: mask))
                    case let key where key.is("msr") && parts.count == 3:
                        guard let msr = hexNumber(parts[0]), let edx = hexNumber(parts[1]), let eax = hexNumber(parts[2]) else { throw bad() }
                        bits.append(.msr(index: msr, edx: edx, eax: eax))
                    case let key where key.is("nomigrate"):
                        migratable = false
                    default:
                        throw bad()
                    }
                }
                features.append(CPUFeature(name: name, index: index, aliases: aliases, isMigratable: migratable, bits: bits))
            case .model:
                guard currentName != nil, let featureWords = value("features"),
                      let modelFeatures = FeatureSet(hexWords: featureWords),
                      let retired = retiredOrder(value("retired"), legacySet: value("removed")),
                      modelFeatures.isWithin(count: features.count), retired.allSatisfy({ $0 < features.count })
                else { throw bad() }
                let decode = split(value("decode") ?? [], UInt8(ascii: ","))
                var signatures: [CPUSignature] = []
                for attribute in attributes where attribute.key.is("sig") {
                    split(attribute.value, UInt8(ascii: "/"), into: &parts)
                    guard parts.count >= 2, let family = decimal(parts[0]), let number = decimal(parts[1]) else { throw bad() }
                    var steppings: ClosedRange<Int>?
                    if parts.count == 3 {
                        let bounds = split(parts[2], UInt8(ascii: "-")).compactMap(decimal)
                        guard bounds.count == 2, bounds[0] <= bounds[1] else { throw bad() }
                        steppings = bounds[0]...bounds[1]
                    }
                    signatures.append(CPUSignature(family: family, model: number, steppings: steppings))
                }
                models.append(CPUModel(
                    name: name, index: models.count, vendor: string("vendor"), parent: string("parent"),
                    decodesHost: decode.contains { $0.is("host") },
                    decodesGuest: decode.contains { $0.is("guest") },
                    signatures: signatures,
                    processorVersions: attributes.filter { $0.key.is("pvr") }.map { unescape($0.value) },
                    features: modelFeatures, retiredFeatureOrder: retired))
            case nil:
                throw bad()
            }
        }
        finishArchitecture()
        guard !architectures.isEmpty else {
            throw .invalidMap(path: origin.description, line: nil, message: "the snapshot defines no architecture")
        }
        self.init(origin: origin, libvirtVersion: libvirtVersion, provenance: provenance, architectures: architectures,
                  folderFingerprint: fingerprint)
    }
}

/// A `key=value` field of a snapshot line (a bare `key` has an empty value).
private struct SnapshotField {
    var key: ArraySlice<UInt8>
    var value: ArraySlice<UInt8>

    init(_ field: ArraySlice<UInt8>) {
        if let equals = field.firstIndex(of: UInt8(ascii: "=")) {
            key = field[..<equals]
            value = field[(equals + 1)...]
        } else {
            key = field
            value = []
        }
    }
}

extension ArraySlice<UInt8> {
    /// Whether the bytes are `word`'s: one `memcmp`, where `elementsEqual`
    /// walks both sequences through their iterators.
    fileprivate func `is`(_ word: StaticString) -> Bool {
        count == word.utf8CodeUnitCount && withUnsafeBufferPointer { bytes in
            bytes.isEmpty || memcmp(bytes.baseAddress!, word.utf8Start, bytes.count) == 0
        }
    }
}

/// The word that starts a snapshot line.
private enum SnapshotKeyword {
    case libvirt, provenance, fingerprint, arch, vendor, feature, model

    init?(_ word: ArraySlice<UInt8>) {
        // Nearly every line is a feature or a model.
        if word.is("feature") { self = .feature }
        else if word.is("model") { self = .model }
        else if word.is("vendor") { self = .vendor }
        else if word.is("arch") { self = .arch }
        else if word.is("libvirt") { self = .libvirt }
        else if word.is("provenance") { self = .provenance }
        else if word.is("fingerprint") { self = .fingerprint }
        else { return nil }
    }
}

private func split(_ bytes: ArraySlice<UInt8>, _ separator: UInt8) -> [ArraySlice<UInt8>] {
    bytes.split(separator: separator, omittingEmptySubsequences: false)
}

/// `bytes` split at `separator` into `pieces`, whose capacity is kept for the next line.
private func split(_ bytes: ArraySlice<UInt8>, _ separator: UInt8, into pieces: inout [ArraySlice<UInt8>],
                   omittingEmpty: Bool = false) {
    pieces.removeAll(keepingCapacity: true)
    var start = bytes.startIndex
    while true {
        let end = bytes[start...].firstIndex(of: separator) ?? bytes.endIndex
        if !omittingEmpty || end > start { pieces.append(bytes[start..<end]) }
        guard end < bytes.endIndex else { return }
        start = end + 1
    }
}

/// A model's retired features: version 2's ordered `retired=3,1` list, or
/// version 1's `removed=<hexWords>` set in map order; nil when unreadable.
private func retiredOrder(_ list: ArraySlice<UInt8>?, legacySet: ArraySlice<UInt8>?) -> [Int]? {
    if let legacySet {
        return FeatureSet(hexWords: legacySet).map(Array.init)
    }
    guard let list, !list.isEmpty else { return [] }
    var order: [Int] = []
    for field in split(list, UInt8(ascii: ",")) {
        guard let index = decimal(field), index >= 0 else { return nil }
        order.append(index)
    }
    return order
}

private func hexNumber(_ bytes: ArraySlice<UInt8>) -> UInt32? {
    guard !bytes.isEmpty, bytes.count <= 8 else { return nil }
    var value: UInt32 = 0
    for byte in bytes {
        let digit: UInt8
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
        default: return nil
        }
        value = value << 4 | UInt32(digit)
    }
    return value
}

private func decimal(_ bytes: ArraySlice<UInt8>) -> Int? {
    Int(String(decoding: bytes, as: UTF8.self))
}

private func hex(_ value: UInt32) -> String { String(value, radix: 16) }

/// Names may hold spaces (`ThunderX2 99xx`); fields are space-separated.
private func escape(_ name: String) -> String { CPUMap.snapshotEscape(name) }

extension CPUMap {
    /// A name as the snapshot writes it: `%` and space percent-encoded.
    static func snapshotEscape(_ name: String) -> String {
        name.replacingAll("%", with: "%25").replacingAll(" ", with: "%20")
    }
}

private func unescape(_ field: ArraySlice<UInt8>) -> String {
    guard field.contains(UInt8(ascii: "%")) else { return String(decoding: field, as: UTF8.self) }
    var bytes: [UInt8] = []
    var index = field.startIndex
    while index < field.endIndex {
        if field[index] == UInt8(ascii: "%"), field[index...].starts(with: "%20".utf8) {
            bytes.append(UInt8(ascii: " "))
            index += 3
        } else if field[index] == UInt8(ascii: "%"), field[index...].starts(with: "%25".utf8) {
            bytes.append(UInt8(ascii: "%"))
            index += 3
        } else {
            bytes.append(field[index])
            index += 1
        }
    }
    return String(decoding: bytes, as: UTF8.self)
}

extension String {
    /// The string with every occurrence of `target` replaced (Foundation-free).
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard contains(target) else { return self }
        return split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
