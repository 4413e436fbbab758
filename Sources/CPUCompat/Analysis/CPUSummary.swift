/// A CPU as reports name it: the file it came from, its model, vendor and x86-64 level.
public struct CPUSummary: Hashable, Sendable, Codable {
    /// The file the CPU was read from (`-` for standard input).
    public var path: String
    /// The model the CPU names (for a host, the one libvirt described it with), if any.
    public var model: String?
    /// The vendor the CPU names, else its model's vendor; nil when neither names one.
    public var vendor: String?
    /// The CPU's x86-64 level, if it reaches x86-64-v1.
    public var level: MicroarchitectureLevel?

    /// The summary of `cpu`, with its level as `architecture` computes it.
    ///
    /// - Parameters:
    ///   - cpu: A CPU resolved against `architecture`'s map.
    ///   - architecture: The map part the CPU belongs to.
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

    /// A report of `baseline`, computed from `cpus`.
    ///
    /// - Parameters:
    ///   - cpus: The CPUs the baseline is computed from, in input order.
    ///   - baseline: The baseline.
    public init(cpus: [CPUSummary], baseline: Baseline) {
        self.cpus = cpus
        self.baseline = baseline
    }
}

extension CPUMap {
    /// The x86 part of the map, for analyses of `cpus`, after checking that
    /// they are all x86 CPUs.
    ///
    /// - Parameter cpus: CPUs resolved against this map (none is fine).
    /// - Returns: The map's x86 ``CPUArchitecture``.
    /// - Throws: ``CPUCompatError/invalidCPU(path:line:message:)`` naming the
    ///   first CPU that is not x86, or ``CPUCompatError/invalidMap(path:line:message:)``
    ///   when the map has no x86 part.
    public func x86Architecture(for cpus: [CPU]) throws(CPUCompatError) -> CPUArchitecture {
        if let other = cpus.first(where: { $0.architecture != "x86" }) {
            throw .invalidCPU(path: other.definition.path, line: other.definition.line,
                              message: "cpucompat analyses x86 CPUs; this CPU is \(other.definition.arch ?? other.architecture)")
        }
        guard let x86 else { throw .invalidMap(path: origin.description, line: nil, message: "the CPU map has no x86 part") }
        return x86
    }
}
