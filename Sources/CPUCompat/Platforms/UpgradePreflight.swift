/// What a libvirt or QEMU upgrade changes in one host's CPU, and what that
/// breaks: the same host's domcapabilities (or capabilities) before and after.
///
/// A host-model guest takes the host-model CPU of the host it starts on, and
/// migration sends that CPU, feature by feature, to the destination, which
/// must have every feature. So features the upgrade *adds* to the host-model
/// CPU stop guests started after the upgrade from moving to hosts not yet
/// upgraded (libvirt: "missing features"); features it *removes* stop guests
/// started before the upgrade from moving to the upgraded host, and custom
/// guests that require them from starting there.
public struct UpgradePreflight: Hashable, Sendable, Codable {
    /// A feature the two files write under different names of the same CPU-map feature.
    public struct Rename: Hashable, Sendable, Codable {
        /// The name before.
        public var before: String
        /// The name after.
        public var after: String
    }

    /// A guest the upgrade affects.
    public struct Guest: Hashable, Sendable, Codable {
        /// The domain or `<cpu>` file.
        public var path: String
        /// Its CPU mode (`custom`, `host-model`, …).
        public var mode: String
        /// Why it would no longer start or migrate, one sentence each.
        public var breaks: [String]
        /// What is worth knowing but breaks nothing (a deprecated model).
        public var notes: [String]
    }

    /// The host before the upgrade.
    public var before: CPUSummary
    /// The host after it.
    public var after: CPUSummary
    /// Features of the host-model (or host) CPU after the upgrade that it lacked before, in map order.
    public var featuresAppeared: [String]
    /// Features it had before and lacks after, in map order.
    public var featuresVanished: [String]
    /// Features written under another name after the upgrade.
    public var renamedFeatures: [Rename]
    /// Models the file called usable before and not usable after.
    public var modelsNoLongerUsable: [String]
    /// Models usable before that the file no longer lists.
    public var modelsGone: [String]
    /// Models marked deprecated after and not before.
    public var modelsNewlyDeprecated: [String]
    /// Models not usable (or not listed) before and usable after.
    public var modelsNowUsable: [String]
    /// The guests given, with what the upgrade does to each.
    public var guests: [Guest]
    /// Whether something breaks: vanished features, models no longer usable
    /// or gone, a guest that breaks, or (unless allowed) appeared features.
    public var somethingBreaks: Bool
}

extension CPUArchitecture {
    /// Compares a host's CPU before and after an upgrade, and checks guests.
    ///
    /// - Parameters:
    ///   - before: The host before (domcapabilities or capabilities).
    ///   - after: The same host after.
    ///   - guests: Guest CPUs (domains or `<cpu>`s); a domain without `<cpu>` is not given.
    ///   - allowNewFeatures: Do not count appeared host-model features as breaking
    ///     (every host will be upgraded before guests move back).
    /// - Returns: The changes and their consequences.
    public func upgradePreflight(before: CPU, after: CPU, guests: [CPU] = [], allowNewFeatures: Bool = false) -> UpgradePreflight {
        let appeared = after.features.subtracting(before.features)
        let vanished = before.features.subtracting(after.features)

        var writtenBefore: [Int: String] = [:]
        for feature in before.definition.features {
            if let index = self.feature(named: feature.name)?.index { writtenBefore[index] = feature.name }
        }
        var renames: [UpgradePreflight.Rename] = []
        for feature in after.definition.features {
            if let index = self.feature(named: feature.name)?.index, let old = writtenBefore[index], old != feature.name {
                renames.append(.init(before: old, after: feature.name))
            }
        }

        let oldModels = before.definition.declaredModels
        let newModels = after.definition.declaredModels
        var noLongerUsable: [String] = []
        var gone: [String] = []
        var deprecated: [String] = []
        var nowUsable: [String] = []
        if !oldModels.isEmpty, !newModels.isEmpty {
            for old in oldModels {
                let new = newModels.first { $0.name == old.name }
                if old.usable == "yes" {
                    if let new, new.usable != "yes" { noLongerUsable.append(old.name) }
                    if new == nil { gone.append(old.name) }
                }
                if let new, new.deprecated, !old.deprecated { deprecated.append(old.name) }
            }
            for new in newModels where new.usable == "yes" {
                if !oldModels.contains(where: { $0.name == new.name && $0.usable == "yes" }) { nowUsable.append(new.name) }
            }
        }

        var checked: [UpgradePreflight.Guest] = []
        for guest in guests {
            var breaks: [String] = []
            var notes: [String] = []
            let mode = guest.definition.mode ?? (guest.model == nil ? "host-model" : "custom")
            if guest.takesItsCPUFromTheHost {
                let incoming = compare(guest: guest, host: after, startedOn: before)
                if let message = incoming.message {
                    breaks.append("started before the upgrade, it cannot migrate to the upgraded host: \(message)")
                }
                let outgoing = compare(guest: guest, host: before, startedOn: after)
                if let message = outgoing.message {
                    let sentence = "started after the upgrade, it cannot migrate to hosts not yet upgraded: \(message)"
                    if allowNewFeatures { notes.append(sentence) } else { breaks.append(sentence) }
                }
            } else {
                let was = compare(guest: guest, host: before)
                let now = compare(guest: guest, host: after)
                if was.isRunnable, let message = now.message {
                    breaks.append("it would no longer start on the upgraded host: \(message)")
                }
                if let name = guest.definition.model {
                    if noLongerUsable.contains(name) || gone.contains(name) {
                        breaks.append("QEMU no longer offers its model \(name) as usable on the upgraded host")
                    }
                    if deprecated.contains(name) { notes.append("its model \(name) is deprecated after the upgrade") }
                }
            }
            if !breaks.isEmpty || !notes.isEmpty {
                checked.append(.init(path: guest.definition.path, mode: mode, breaks: breaks, notes: notes))
            }
        }
        let breaks = !vanished.isEmpty || !noLongerUsable.isEmpty || !gone.isEmpty
            || (!appeared.isEmpty && !allowNewFeatures) || checked.contains { !$0.breaks.isEmpty }
        return UpgradePreflight(before: CPUSummary(before, in: self), after: CPUSummary(after, in: self),
                                featuresAppeared: names(of: appeared), featuresVanished: names(of: vanished),
                                renamedFeatures: renames, modelsNoLongerUsable: noLongerUsable, modelsGone: gone,
                                modelsNewlyDeprecated: deprecated, modelsNowUsable: nowUsable, guests: checked,
                                somethingBreaks: breaks)
    }
}

extension UpgradePreflight {
    /// The report as `cpucompat preflight` prints it; it ends in a line break.
    public var text: String {
        func list(_ names: [String]) -> String { names.isEmpty ? "none" : names.joined(separator: ",") }
        var lines = [
            "before: \(before.path) (\(before.model ?? "no model"))",
            "after:  \(after.path) (\(after.model ?? "no model"))",
            "host-model features that appeared: \(list(featuresAppeared))"
                + (featuresAppeared.isEmpty ? "" : " (guests started after the upgrade cannot migrate to hosts not yet upgraded)"),
            "host-model features that vanished: \(list(featuresVanished))"
                + (featuresVanished.isEmpty ? "" : " (running guests cannot migrate in; guests requiring them cannot start)"),
            "renamed features: " + (renamedFeatures.isEmpty ? "none" : renamedFeatures.map { "\($0.before) -> \($0.after)" }.joined(separator: ",")),
            "models no longer usable: \(list(modelsNoLongerUsable))",
            "models no longer listed: \(list(modelsGone))",
            "models newly deprecated: \(list(modelsNewlyDeprecated))",
            "models newly usable: \(list(modelsNowUsable))",
        ]
        for guest in guests {
            for sentence in guest.breaks { lines.append("guest \(guest.path) (\(guest.mode)): breaks: \(sentence)") }
            for sentence in guest.notes { lines.append("guest \(guest.path) (\(guest.mode)): note: \(sentence)") }
        }
        lines.append(somethingBreaks ? "verdict: the upgrade breaks something" : "verdict: nothing breaks")
        return lines.map(CPUCompatError.oneLine).joined(separator: "\n") + "\n"
    }
}
