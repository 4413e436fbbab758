/// A CPU as reports name it: the file it came from, its model and vendor.
public struct CPUSummary: Hashable, Sendable, Codable {
    /// The file the CPU was read from (`-` for standard input).
    public var path: String
    /// The model the file names, if any.
    public var model: String?
    /// The vendor the file names, if any.
    public var vendor: String?
    /// The CPU's x86-64 level, if it reaches x86-64-v1.
    public var level: MicroarchitectureLevel?

    /// The summary of `cpu`, with its level as `architecture` computes it.
    public init(_ cpu: CPU, in architecture: CPUArchitecture) {
        path = cpu.definition.path
        model = cpu.model?.name
        vendor = cpu.vendor?.name ?? cpu.model?.vendor
        level = architecture.level(of: cpu.features)
    }
}

/// What `cpucompat baseline` reports.
public struct BaselineReport: Hashable, Sendable, Codable {
    /// The CPUs the baseline is computed from, in input order.
    public var cpus: [CPUSummary]
    /// The baseline.
    public var baseline: Baseline

    public init(cpus: [CPUSummary], baseline: Baseline) {
        self.cpus = cpus
        self.baseline = baseline
    }
}

extension CPUMap {
    /// The x86 part of the map, for analyses that need it.
    ///
    /// - Throws: `CPUCompatError.invalidCPU` when a CPU is not x86, or
    ///   `.invalidMap` when the map has no x86 part.
    public func x86Architecture(for cpus: [CPU]) throws(CPUCompatError) -> CPUArchitecture {
        if let other = cpus.first(where: { $0.architecture != "x86" }) {
            throw .invalidCPU(path: other.definition.path, line: other.definition.line,
                              message: "cpucompat analyses x86 CPUs; this CPU is \(other.definition.arch ?? other.architecture)")
        }
        guard let x86 else { throw .invalidMap(path: origin.description, line: nil, message: "the CPU map has no x86 part") }
        return x86
    }
}
