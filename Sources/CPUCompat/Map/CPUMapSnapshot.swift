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
        var text = text
        // A built-in snapshot is a string literal: its UTF-8 is read in place, not copied.
        self = try text.withUTF8 { bytes in
            Result { () throws(CPUCompatError) in try CPUMap(snapshotBytes: bytes[...], origin: origin) }
        }.get()
    }

    /// ``init(snapshot:origin:)`` on the snapshot's UTF-8. The built-in map is
    /// read on every run: this walks the bytes once a line, without arrays
    /// of fields, making a String only for each name it keeps.
    private init(snapshotBytes bytes: SnapshotBytes, origin: Origin) throws(CPUCompatError) {
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

        var lineNumber = 0
        var lines = SnapshotPieces(bytes, separator: UInt8(ascii: "\n"))
        while let line = lines.next() {
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
            var fields = SnapshotPieces(line, separator: UInt8(ascii: " "), omittingEmpty: true)
            guard let keyword = fields.next(), let nameField = fields.next() else { throw bad() }
            let name = unescape(nameField)
            // What is left of `fields` are the line's `key=value` attributes.
            switch SnapshotKeyword(keyword) {
            case .libvirt:
                libvirtVersion = name
            case .provenance:
                provenance = utf8String(line.dropFirst("provenance ".utf8.count))
            case .fingerprint:
                fingerprint = name
            case .arch:
                finishArchitecture()
                currentName = name
            case .vendor:
                guard currentName != nil else { throw bad() }
                var string: String?
                var value: String?
                while let (key, text) = fields.nextAttribute() {
                    if key.is("string"), string == nil { string = unescape(text) }
                    if key.is("value"), value == nil { value = unescape(text) }
                }
                vendors.append(CPUVendor(name: name, string: string, value: value))
            case .feature:
                guard currentName != nil, let feature = readFeature(name: name, index: features.count, attributes: &fields)
                else { throw bad() }
                features.append(feature)
            case .model:
                guard currentName != nil,
                      let model = readModel(name: name, index: models.count, featureCount: features.count, attributes: &fields)
                else { throw bad() }
                models.append(model)
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

/// A feature line's attributes read into the feature; nil when one is unreadable or unknown.
private func readFeature(name: String, index: Int, attributes: inout SnapshotPieces) -> CPUFeature? {
    var aliases: [CPUFeature.Alias] = []
    var bits: [CPUFeature.Bit] = []
    var migratable = true
    while let (key, value) = attributes.nextAttribute() {
        var parts = SnapshotPieces(value, separator: UInt8(ascii: "/"))
        if key.is("alias") {
            guard let alias = parts.next(), let source = parts.next(), parts.next() == nil else { return nil }
            aliases.append(.init(name: unescape(alias), source: source.is("-") ? nil : unescape(source)))
        } else if key.is("cpuid") {
            guard let leaf = parts.next().flatMap(hexNumber), let subleaf = parts.next(),
                  let register = parts.next().flatMap(CPUFeature.Register.init),
                  let mask = parts.next().flatMap(hexNumber), parts.next() == nil else { return nil }
            bits.append(.cpuid(leaf: leaf, subleaf: hexNumber(subleaf), register: register, mask: mask))
        } else if key.is("msr") {
            guard let msr = parts.next().flatMap(hexNumber), let edx = parts.next().flatMap(hexNumber),
                  let eax = parts.next().flatMap(hexNumber), parts.next() == nil else { return nil }
            bits.append(.msr(index: msr, edx: edx, eax: eax))
        } else if key.is("nomigrate") {
            migratable = false
        } else {
            return nil
        }
    }
    return CPUFeature(name: name, index: index, aliases: aliases, isMigratable: migratable, bits: bits)
}

/// A model line's attributes read into the model, of a map with
/// `featureCount` features so far; nil when one is unreadable or names a
/// feature beyond them. Where a key repeats, its first value counts
/// (`sig` and `pvr` repeat by design); keys it does not know are ignored.
private func readModel(name: String, index: Int, featureCount: Int, attributes: inout SnapshotPieces) -> CPUModel? {
    var features: SnapshotBytes?
    var retired: SnapshotBytes?
    var removed: SnapshotBytes?
    var decode: SnapshotBytes?
    var vendor: String?
    var parent: String?
    var signatures: [CPUSignature] = []
    var processorVersions: [String] = []
    while let (key, value) = attributes.nextAttribute() {
        if key.is("features") {
            if features == nil { features = value }
        } else if key.is("sig") {
            guard let signature = signature(value) else { return nil }
            signatures.append(signature)
        } else if key.is("decode") {
            if decode == nil { decode = value }
        } else if key.is("vendor") {
            if vendor == nil { vendor = unescape(value) }
        } else if key.is("parent") {
            if parent == nil { parent = unescape(value) }
        } else if key.is("retired") {
            if retired == nil { retired = value }
        } else if key.is("pvr") {
            processorVersions.append(unescape(value))
        } else if key.is("removed") {
            if removed == nil { removed = value }
        }
    }
    guard let modelFeatures = features.flatMap({ FeatureSet(hexWords: UnsafeBufferPointer(rebasing: $0)) }),
          let retiredOrder = retiredOrder(retired, legacySet: removed),
          modelFeatures.isWithin(count: featureCount), retiredOrder.allSatisfy({ $0 < featureCount })
    else { return nil }
    var decodesHost = false
    var decodesGuest = false
    if let decode {
        var words = SnapshotPieces(decode, separator: UInt8(ascii: ","))
        while let word = words.next() {
            if word.is("host") { decodesHost = true }
            if word.is("guest") { decodesGuest = true }
        }
    }
    return CPUModel(
        name: name, index: index, vendor: vendor, parent: parent, decodesHost: decodesHost, decodesGuest: decodesGuest,
        signatures: signatures, processorVersions: processorVersions, features: modelFeatures,
        retiredFeatureOrder: retiredOrder)
}

/// A `sig=` value: `family/model`, or `family/model/first-last` with steppings.
private func signature(_ value: SnapshotBytes) -> CPUSignature? {
    var parts = SnapshotPieces(value, separator: UInt8(ascii: "/"))
    guard let family = parts.next().flatMap(decimal), let model = parts.next().flatMap(decimal) else { return nil }
    guard let steppingsText = parts.next() else { return CPUSignature(family: family, model: model) }
    var bounds = SnapshotPieces(steppingsText, separator: UInt8(ascii: "-"))
    guard parts.next() == nil, let first = bounds.next().flatMap(decimal), let last = bounds.next().flatMap(decimal),
          bounds.next() == nil, first <= last else { return nil }
    return CPUSignature(family: family, model: model, steppings: first...last)
}

/// Bytes of the snapshot being read: slices of its UTF-8, which (unlike
/// `ArraySlice`s) cost no reference counting as they are passed around.
private typealias SnapshotBytes = Slice<UnsafeBufferPointer<UInt8>>

/// The pieces of some snapshot bytes between one separator and the next,
/// found one at a time, so that no line needs an array of its fields.
private struct SnapshotPieces {
    /// What is not yet cut off; nil once the last piece has been returned.
    private var rest: SnapshotBytes?
    private let separator: UInt8
    private let omittingEmpty: Bool

    init(_ bytes: SnapshotBytes, separator: UInt8, omittingEmpty: Bool = false) {
        rest = bytes
        self.separator = separator
        self.omittingEmpty = omittingEmpty
    }

    /// The next piece: after the last separator, the (maybe empty) rest.
    mutating func next() -> SnapshotBytes? {
        while let bytes = rest {
            let piece: SnapshotBytes
            if let end = bytes.position(of: separator) {
                piece = bytes[..<end]
                rest = bytes[(end + 1)...]
            } else {
                piece = bytes
                rest = nil
            }
            if !omittingEmpty || !piece.isEmpty { return piece }
        }
        return nil
    }

    /// The next piece as a `key=value` attribute (a bare `key` has an empty value).
    mutating func nextAttribute() -> (key: SnapshotBytes, value: SnapshotBytes)? {
        guard let field = next() else { return nil }
        guard let equals = field.position(of: UInt8(ascii: "=")) else { return (field, field[field.endIndex...]) }
        return (field[..<equals], field[(equals + 1)...])
    }
}

extension SnapshotBytes {
    /// Whether the bytes are `word`'s: one `memcmp`, where `elementsEqual`
    /// walks both sequences through their iterators.
    fileprivate func `is`(_ word: StaticString) -> Bool {
        guard count == word.utf8CodeUnitCount else { return false }
        guard let start = base.baseAddress else { return true }
        return memcmp(start + startIndex, word.utf8Start, count) == 0
    }

    /// The index of the first `byte`, found with `memchr`.
    fileprivate func position(of byte: UInt8) -> Int? {
        guard let start = base.baseAddress,
              let found = memchr(start + startIndex, Int32(byte), count) else { return nil }
        return startIndex + UnsafeRawPointer(start + startIndex).distance(to: found)
    }
}

/// The word that starts a snapshot line.
private enum SnapshotKeyword {
    case libvirt, provenance, fingerprint, arch, vendor, feature, model

    init?(_ word: SnapshotBytes) {
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

/// A model's retired features: version 2's ordered `retired=3,1` list, or
/// version 1's `removed=<hexWords>` set in map order; nil when unreadable.
private func retiredOrder(_ list: SnapshotBytes?, legacySet: SnapshotBytes?) -> [Int]? {
    if let legacySet {
        return FeatureSet(hexWords: UnsafeBufferPointer(rebasing: legacySet)).map(Array.init)
    }
    guard let list, !list.isEmpty else { return [] }
    var order: [Int] = []
    var fields = SnapshotPieces(list, separator: UInt8(ascii: ","))
    while let field = fields.next() {
        guard let index = decimal(field) else { return nil }
        order.append(index)
    }
    return order
}

private func hexNumber(_ bytes: SnapshotBytes) -> UInt32? {
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

/// A decimal number of up to 18 digits, so it cannot overflow.
private func decimal(_ bytes: SnapshotBytes) -> Int? {
    guard !bytes.isEmpty, bytes.count <= 18 else { return nil }
    var value = 0
    for byte in bytes {
        guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
        value = value * 10 + Int(byte - UInt8(ascii: "0"))
    }
    return value
}

extension CPUFeature.Register {
    /// The register a snapshot's `cpuid=` names (`ecx`), compared as bytes.
    fileprivate init?(_ name: SnapshotBytes) {
        guard let register = Self.allCases.first(where: { name.is($0.snapshotName) }) else { return nil }
        self = register
    }

    /// The raw value, as `is` takes it.
    private var snapshotName: StaticString {
        switch self {
        case .eax: "eax"
        case .ebx: "ebx"
        case .ecx: "ecx"
        case .edx: "edx"
        }
    }
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

private func utf8String(_ bytes: SnapshotBytes) -> String {
    String(decoding: UnsafeBufferPointer(rebasing: bytes), as: UTF8.self)
}

private func unescape(_ field: SnapshotBytes) -> String {
    guard field.contains(UInt8(ascii: "%")) else { return utf8String(field) }
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
