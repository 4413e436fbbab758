/// The x86-64 micro-architecture levels of the x86-64 psABI, in libvirt's
/// feature names. Each level includes the ones below it.
///
/// - v1: cmov, cx8, fpu, fxsr, mmx, syscall, sse, sse2 (and lm: long mode)
/// - v2: cx16, lahf_lm, popcnt, pni (SSE3), sse4.1, sse4.2, ssse3
/// - v3: avx, avx2, bmi1, bmi2, f16c, fma, abm (LZCNT), movbe, xsave (OSXSAVE)
/// - v4: avx512f, avx512bw, avx512cd, avx512dq, avx512vl
///
/// The psABI's v3 asks for OSXSAVE, the OS having enabled XSAVE; in a host or
/// guest CPU definition that is `xsave` (libvirt lists `osxsave` only for
/// hosts), so `xsave` stands for it here.
public enum MicroarchitectureLevel: Int, Comparable, Hashable, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// `x86-64-v1`, which every x86-64 CPU meets.
    case v1 = 1
    /// `x86-64-v2`; RHEL 9 guests need it.
    case v2 = 2
    /// `x86-64-v3`; RHEL 10 guests need it.
    case v3 = 3
    /// `x86-64-v4`: AVX-512's foundation and its BW, CD, DQ and VL parts.
    case v4 = 4

    /// The features this level adds to the one below it, in libvirt's names.
    public var addedFeatures: [String] {
        switch self {
        case .v1: ["cmov", "cx8", "fpu", "fxsr", "mmx", "syscall", "sse", "sse2", "lm"]
        case .v2: ["cx16", "lahf_lm", "popcnt", "pni", "sse4.1", "sse4.2", "ssse3"]
        case .v3: ["avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave"]
        case .v4: ["avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"]
        }
    }

    /// `x86-64-v2`.
    public var description: String { "x86-64-v\(rawValue)" }

    /// Whether `lhs` is a lower level than `rhs`.
    ///
    /// - Parameters:
    ///   - lhs: A level.
    ///   - rhs: Another level.
    /// - Returns: True if `lhs` is below `rhs`.
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }

    /// Encodes the level as its ``description``, `x86-64-v2`.
    ///
    /// - Parameter encoder: The encoder to write to.
    /// - Throws: What the encoder throws.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    /// Decodes a level written as ``encode(to:)`` writes it.
    ///
    /// - Parameter decoder: The decoder to read from.
    /// - Throws: `DecodingError.dataCorrupted` for a string other than
    ///   `x86-64-v1` … `x86-64-v4`, or what the decoder throws.
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard text.hasPrefix("x86-64-v"), let number = Int(text.dropFirst(8)), let level = Self(rawValue: number) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not an x86-64 level: \(text)"))
        }
        self = level
    }
}

extension CPUArchitecture {
    /// The highest x86-64 level whose features, and those of every level
    /// below it, are all in `features`.
    ///
    /// - Parameter features: A CPU's features, in this architecture.
    /// - Returns: The level, or nil when not even x86-64-v1's features are
    ///   all there. A level whose features this map does not all define is
    ///   never reached.
    public func level(of features: FeatureSet) -> MicroarchitectureLevel? {
        var reached: MicroarchitectureLevel?
        for (level, required) in levelFeatureSets {
            guard let required, required.isSubset(of: features) else { break }
            reached = level
        }
        return reached
    }

    /// Each level's added features as a set; nil where this map lacks one of them.
    static func levelFeatureSets(byName index: [String: Int]) -> [(MicroarchitectureLevel, FeatureSet?)] {
        MicroarchitectureLevel.allCases.map { level in
            let indices = level.addedFeatures.compactMap { index[$0] }
            return (level, indices.count == level.addedFeatures.count ? FeatureSet(indices) : nil)
        }
    }
}
