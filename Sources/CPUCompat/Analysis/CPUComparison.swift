/// Whether a guest CPU can run on a host, in libvirt's terms.
public struct CPUComparison: Hashable, Sendable, Codable {
    /// libvirt's three answers.
    public enum Verdict: String, Hashable, Sendable, Codable {
        /// The host has exactly the guest's features.
        case identical
        /// The host has every feature the guest needs, and more.
        case superset
        /// The guest cannot run there.
        case incompatible
    }

    /// The host.
    public var host: CPUSummary
    /// The guest.
    public var guest: CPUSummary
    /// For a host-model or host-passthrough guest: the CPU it was compared as.
    public var comparedAs: String?
    /// The answer.
    public var verdict: Verdict
    /// Features the guest needs that the host lacks, in map order.
    public var missingFeatures: [String]
    /// Features the guest forbids that the host has, in map order.
    public var extraFeatures: [String]
    /// libvirt's sentence for an incompatible guest.
    public var message: String?

    /// Whether the guest can run on the host.
    public var isRunnable: Bool { verdict != .incompatible }
}

extension CPUArchitecture {
    /// Compares a guest CPU with a host CPU.
    ///
    /// A custom guest needs its model's features plus its `require` and
    /// `force` features, less `disable`d and `forbid`den ones; `forbid`
    /// features must be absent from the host. A `host-model` or
    /// `host-passthrough` guest takes its CPU from the host it starts on:
    /// pass that host as `startedOn` (its features are what the guest has);
    /// without it the guest is compared as the host's own CPU.
    ///
    /// - Parameters:
    ///   - guest: The guest CPU (a domain's `<cpu>`, a baseline, a host-model CPU).
    ///   - host: The host CPU (capabilities or domcapabilities).
    ///   - startedOn: For a host-model or host-passthrough guest, the host it was started on.
    public func compare(guest: CPU, host: CPU, startedOn: CPU? = nil) -> CPUComparison {
        var needed = guest.required
        var forbidden = guest.forbidden
        var guestFeatures = guest.features
        var comparedAs: String?
        let mode = guest.definition.mode
        if guest.takesItsCPUFromTheHost {
            let source = startedOn ?? host
            needed = source.features
            guestFeatures = source.features
            needed.subtract(guest.removed)
            guestFeatures.subtract(guest.removed)
            forbidden = guest.forbidden
            comparedAs = "the \(mode ?? "host-model") CPU of \(source.definition.path)"
        } else if guest.definition.source == .domainCapabilities {
            comparedAs = "the host-model CPU of \(guest.definition.path)"
        } else if guest.definition.describesHost {
            comparedAs = "the host CPU of \(guest.definition.path)"
        }
        let missing = names(of: needed.subtracting(host.features))
        let extra = names(of: forbidden.intersection(host.features))
        var message: String?
        var verdict: CPUComparison.Verdict
        if let wanted = guest.vendor?.name, let offered = host.vendor?.name, wanted != offered {
            verdict = .incompatible
            message = "host CPU vendor does not match required CPU vendor \(wanted)"
        } else if !missing.isEmpty || !extra.isEmpty {
            verdict = .incompatible
            var parts: [String] = []
            if !extra.isEmpty { parts.append("extra features: " + extra.joined(separator: ",")) }
            if !missing.isEmpty { parts.append("missing features: " + missing.joined(separator: ",")) }
            message = "guest CPU doesn't match specification: " + parts.joined(separator: ", ")
        } else {
            verdict = guestFeatures == host.features ? .identical : .superset
        }
        return CPUComparison(host: CPUSummary(host, in: self), guest: CPUSummary(guest, in: self), comparedAs: comparedAs, verdict: verdict,
                             missingFeatures: missing, extraFeatures: extra, message: message)
    }
}

extension CPUComparison {
    /// The comparison as text: the verdict, what was compared, libvirt's sentence.
    public var text: String {
        var lines = ["\(verdict.rawValue): guest \(guest.path) on host \(host.path)"]
        if let comparedAs { lines.append("guest compared as \(comparedAs)") }
        if let message { lines.append(message) }
        return lines.joined(separator: "\n") + "\n"
    }
}

extension CPU {
    /// Whether this is a guest CPU whose features come from the host it
    /// starts on (`host-model`, `host-passthrough`, `maximum` without a
    /// model): whether it can move to another host depends on that host.
    public var takesItsCPUFromTheHost: Bool {
        let mode = definition.mode
        return model == nil && (mode == "host-model" || mode == "host-passthrough" || mode == "maximum")
    }
}
