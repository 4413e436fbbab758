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
    case v1 = 1, v2, v3, v4

    /// The features this level adds to the one below it.
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

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard text.hasPrefix("x86-64-v"), let number = Int(text.dropFirst(8)), let level = Self(rawValue: number) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not an x86-64 level: \(text)"))
        }
        self = level
    }
}

extension CPUArchitecture {
    /// The highest x86-64 level whose features are all in `features`, or nil
    /// when not even x86-64-v1's are.
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
