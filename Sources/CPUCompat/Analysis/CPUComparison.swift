/// Whether a guest CPU can run on a host, in libvirt's terms.
public struct CPUComparison: Hashable, Sendable, Codable {
    /// libvirt's three answers; the raw value is the word `cpucompat compare` prints.
    public enum Verdict: String, Hashable, Sendable, Codable {
        /// The host's features are exactly the guest's.
        case identical
        /// The guest can run there, and the host's features are not exactly
        /// the guest's: the host has more (or lacks only features the guest
        /// takes as `optional`).
        case superset
        /// The guest cannot run there: the vendors differ, or the host lacks
        /// a feature the guest needs or has one it forbids.
        case incompatible
    }

    /// The host.
    public var host: CPUSummary
    /// The guest.
    public var guest: CPUSummary
    /// What the guest was compared as, where it is not a guest CPU of its own:
    /// `the host-model CPU of kvm02.xml` (or `host-passthrough`, `maximum`)
    /// for a guest that takes its CPU from the host it started on
    /// (``CPU/takesItsCPUFromTheHost``), `the host-model CPU of …` for a
    /// domcapabilities file, `the host CPU of …` for a host CPU; nil for a
    /// custom guest CPU.
    public var comparedAs: String?
    /// The answer.
    public var verdict: Verdict
    /// Features the guest needs that the host lacks, in map order (libvirt's
    /// `missing features:` list).
    public var missingFeatures: [String]
    /// Features the guest forbids that the host has, in map order (libvirt's
    /// `extra features:` list).
    public var extraFeatures: [String]
    /// libvirt's sentence for an incompatible guest (`guest CPU doesn't match
    /// specification: missing features: …`, or the vendor mismatch); nil
    /// when the guest can run.
    public var message: String?

    /// Whether the guest can run on the host: the verdict is identical or superset.
    public var isRunnable: Bool { verdict != .incompatible }
}

extension CPUArchitecture {
    /// Compares a guest CPU with a host CPU.
    ///
    /// A custom guest needs its model's features plus its `require` and
    /// `force` features, less `disable`d and `forbid`den ones (an `optional`
    /// feature its model lacks is not needed); `forbid` features must be
    /// absent from the host. A `host-model`, `host-passthrough` or `maximum`
    /// guest takes its CPU from the host it starts on: pass that host as
    /// `startedOn` (its features, less the guest's `disable`d ones, are what
    /// the guest has); without it the guest is compared as if started on
    /// `host`. Where both name a `<vendor>`, they must be the same.
    ///
    /// - Parameters:
    ///   - guest: The guest CPU (a domain's `<cpu>`, a baseline, a host-model CPU).
    ///   - host: The host CPU (capabilities or domcapabilities).
    ///   - startedOn: For a guest that takes its CPU from the host, the host it was started on.
    /// - Returns: The verdict, what is missing or extra, and libvirt's sentence.
    public func compare(guest: CPU, host: CPU, startedOn: CPU? = nil) -> CPUComparison {
        var needed = guest.required
        var forbidden = guest.forbidden
        var guestFeatures = guest.features
        var comparedAs: String?
        let mode = guest.definition.mode
        if guest.takesItsCPUFromTheHost {
            let source = startedOn ?? host
            var given = source.features
            // libvirt's host-model leaves out what KVM never gives a guest and what blocks
            // migration (invtsc); a capabilities CPU still lists them, a domcapabilities one does not.
            if mode == "host-model", source.definition.source == .capabilities { given.subtract(notForGuests) }
            // The guest's own require and force features come on top of the host's.
            needed = given.union(guest.required)
            guestFeatures = given.union(guest.features)
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
    /// The comparison as `cpucompat compare` prints it: the verdict with the
    /// guest's and the host's file, then what the guest was compared as and
    /// libvirt's sentence where there are such; it ends in a line break.
    public var text: String {
        var lines = ["\(verdict.rawValue): guest \(guest.path) on host \(host.path)"]
        if let comparedAs { lines.append("guest compared as \(comparedAs)") }
        if let message { lines.append(message) }
        return lines.joined(separator: "\n") + "\n"
    }
}

extension CPU {
    /// Whether this is a guest CPU whose features come from the host it
    /// starts on (mode `host-model`, `host-passthrough` or `maximum`, and no
    /// model): whether it can move to another host depends on that host.
    public var takesItsCPUFromTheHost: Bool {
        let mode = definition.mode
        return model == nil && (mode == "host-model" || mode == "host-passthrough" || mode == "maximum")
    }
}
