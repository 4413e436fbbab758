/// What one CPU has that another lacks, both ways, and their baseline.
///
/// ``missingOnDestination`` is what a host-model guest started on the source
/// would miss on the destination: the list libvirt prints after
/// `guest CPU doesn't match specification: missing features:`, in the same
/// (CPU-map) order.
public struct CPUDiff: Hashable, Sendable, Codable {
    /// The CPU a guest would migrate from.
    public var source: CPUSummary
    /// The CPU a guest would migrate to.
    public var destination: CPUSummary
    /// Features of the source that the destination lacks, in map order.
    public var missingOnDestination: [String]
    /// Features of the destination that the source lacks, in map order.
    public var missingOnSource: [String]
    /// The baseline of the two, or nil when there is none (see ``baselineError``).
    public var baseline: Baseline?
    /// Why there is no baseline: the description of the error the baseline
    /// threw (a CPU without a model, different vendors, no feature in
    /// common); nil when there is one.
    public var baselineError: String?

    /// Whether the two CPUs have the same features.
    public var isIdentical: Bool { missingOnDestination.isEmpty && missingOnSource.isEmpty }
}

extension CPUArchitecture {
    /// Compares `source` with `destination` feature by feature, and computes
    /// the baseline of the two.
    ///
    /// - Parameters:
    ///   - source: The CPU a guest would migrate from.
    ///   - destination: The CPU a guest would migrate to.
    /// - Returns: The features each lacks of the other's, and their baseline,
    ///   or why there is none (a failed baseline is not an error here).
    public func diff(from source: CPU, to destination: CPU) -> CPUDiff {
        var baseline: Baseline?
        var baselineError: String?
        do {
            baseline = try self.baseline(of: [source, destination])
        } catch {
            baselineError = error.description
        }
        return CPUDiff(
            source: CPUSummary(source, in: self), destination: CPUSummary(destination, in: self),
            missingOnDestination: names(of: source.features.subtracting(destination.features)),
            missingOnSource: names(of: destination.features.subtracting(source.features)),
            baseline: baseline, baselineError: baselineError)
    }
}
