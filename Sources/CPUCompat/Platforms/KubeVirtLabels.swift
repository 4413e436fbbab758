/// The CPU node labels KubeVirt's node-labeller sets from a host's
/// `virsh domcapabilities`, and the `cpuModel` every node of a cluster can run.
///
/// The rules are KubeVirt's (kubevirt/kubevirt, read, not copied):
/// - the label prefixes are the constants `CPUFeatureLabel`, `CPUModelLabel`,
///   `SupportedHostModelMigrationCPU`, `CPUModelVendorLabel`, `HostModelCPULabel`,
///   `HostModelRequiredFeaturesLabel` and `NodeHostModelIsObsoleteLabel` of
///   `staging/src/kubevirt.io/api/core/v1/types.go`; every value is `"true"`;
/// - `cpu-feature.node.kubevirt.io/<f>`: every feature that
///   `virsh hypervisor-cpu-baseline --features` marks `require` for the
///   domcapabilities' host-model CPU (`cmd/virt-launcher/node-labeller/node-labeller.sh`
///   writes it to `supported_features.xml`, `loadHostSupportedFeatures` keeps the
///   `require` ones): the host-model CPU expanded, its model's features plus the
///   required ones less the disabled ones;
/// - `cpu-model.node.kubevirt.io/<M>` and `cpu-model-migration.node.kubevirt.io/<M>`:
///   every `<model>` of the domcapabilities whose `usable` is neither `no` nor
///   missing, less the obsolete models (`SupportedHostCPUs` in
///   `pkg/virt-handler/node-labeller/capabilities`, `supportedCPUModels` and
///   `prepareLabels` in `pkg/virt-handler/node-labeller/node_labeller.go`);
/// - `cpu-model-migration.node.kubevirt.io/<host-model>` too, unless the
///   host-model's model is obsolete: then `node-labeller.kubevirt.io/obsolete-host-model`;
/// - `host-model-cpu.node.kubevirt.io/<M>`, `cpu-vendor.node.kubevirt.io/<V>`:
///   the host-model's `<model>` and `<vendor>`;
/// - `host-model-required-features.node.kubevirt.io/<f>`: the host-model's
///   `<feature policy='require'>` names as the file writes them.
public enum KubeVirt {
    /// `cpu-feature.node.kubevirt.io/`
    public static let featureLabelPrefix = "cpu-feature.node.kubevirt.io/"
    /// `cpu-model.node.kubevirt.io/`
    public static let modelLabelPrefix = "cpu-model.node.kubevirt.io/"
    /// `cpu-model-migration.node.kubevirt.io/`
    public static let migrationModelLabelPrefix = "cpu-model-migration.node.kubevirt.io/"
    /// `cpu-vendor.node.kubevirt.io/`
    public static let vendorLabelPrefix = "cpu-vendor.node.kubevirt.io/"
    /// `host-model-cpu.node.kubevirt.io/`
    public static let hostModelLabelPrefix = "host-model-cpu.node.kubevirt.io/"
    /// `host-model-required-features.node.kubevirt.io/`
    public static let hostModelRequiredFeatureLabelPrefix = "host-model-required-features.node.kubevirt.io/"
    /// `node-labeller.kubevirt.io/obsolete-host-model`
    public static let obsoleteHostModelLabel = "node-labeller.kubevirt.io/obsolete-host-model"

    /// KubeVirt's default `obsoleteCPUModels` (`DefaultObsoleteCPUModels` of
    /// `pkg/virt-handler/node-labeller`): models never labelled unless the
    /// KubeVirt CR's `spec.configuration.obsoleteCPUModels` says otherwise.
    public static let defaultObsoleteModels: [String] = [
        "486", "486-v1", "pentium", "pentium-v1", "pentium2", "pentium2-v1", "pentium3", "pentium3-v1",
        "pentiumpro", "pentiumpro-v1", "coreduo", "coreduo-v1", "n270", "n270-v1", "core2duo", "core2duo-v1",
        "Conroe", "Conroe-v1", "athlon", "athlon-v1", "phenom", "phenom-v1", "qemu64", "qemu64-v1",
        "qemu32", "qemu32-v1", "kvm64", "kvm64-v1", "kvm32", "kvm32-v1",
        "Opteron_G1", "Opteron_G1-v1", "Opteron_G2", "Opteron_G2-v1",
    ]
}

/// What `cpucompat export kubevirt` answers: each node's labels, and the
/// model every node can run.
public struct KubeVirtExport: Hashable, Sendable, Codable {
    /// One node's labels.
    public struct Node: Hashable, Sendable, Codable {
        /// The Kubernetes node name.
        public var name: String
        /// The domcapabilities file.
        public var path: String
        /// The host-model CPU's model.
        public var hostModel: String?
        /// The host-model CPU's vendor.
        public var vendor: String?
        /// The labels, each with the value `"true"`.
        public var labels: [String: String]
        /// The models labelled `cpu-model.node.kubevirt.io/`, in the file's order.
        public var models: [String]
    }

    /// The nodes, in input order.
    public var nodes: [Node]
    /// The obsolete models applied.
    public var obsoleteModels: [String]
    /// The models every node labels `cpu-model.node.kubevirt.io/`, newest
    /// (last in the CPU map) first; models the map lacks come last, by name.
    public var commonModels: [String]
    /// The model to set as a VM's `spec.template.spec.domain.cpu.model` or the
    /// KubeVirt CR's `spec.configuration.cpuModel`: of `commonModels` (those of
    /// the nodes' vendor where there are such), the one with the most features
    /// (the later in the map on a tie), not an alias of another; nil when no
    /// model is labelled on every node.
    public var cpuModel: String?
}

extension CPUArchitecture {
    /// The labels KubeVirt's node-labeller sets on one node (see ``KubeVirt``).
    ///
    /// - Parameters:
    ///   - host: The node's `virsh domcapabilities`, read as a host CPU.
    ///   - name: The node name.
    ///   - obsoleteModels: The models never labelled.
    /// - Returns: The node's labels.
    /// - Throws: `CPUCompatError.invalidCPU` when `host` was not read from
    ///   domcapabilities: the labels come from its host-model and custom models.
    public func kubeVirtNode(_ host: CPU, name: String,
                             obsoleteModels: [String] = KubeVirt.defaultObsoleteModels) throws(CPUCompatError) -> KubeVirtExport.Node {
        guard host.definition.source == .domainCapabilities else {
            throw .invalidCPU(path: host.definition.path, line: host.definition.line,
                              message: "is not `virsh domcapabilities` output: KubeVirt labels nodes from their "
                                  + "domcapabilities (host-model CPU and usable models)")
        }
        let obsolete = Set(obsoleteModels)
        var labels: [String: String] = [:]
        for feature in names(of: host.features) { labels[KubeVirt.featureLabelPrefix + feature] = "true" }
        var models: [String] = []
        for declared in host.definition.declaredModels
        where declared.usable != nil && declared.usable != "no" && declared.usable != "" && !obsolete.contains(declared.name) {
            models.append(declared.name)
            labels[KubeVirt.modelLabelPrefix + declared.name] = "true"
            labels[KubeVirt.migrationModelLabelPrefix + declared.name] = "true"
        }
        if let hostModel = host.definition.model {
            if obsolete.contains(hostModel) {
                labels[KubeVirt.obsoleteHostModelLabel] = "true"
            } else {
                labels[KubeVirt.migrationModelLabelPrefix + hostModel] = "true"
            }
            labels[KubeVirt.hostModelLabelPrefix + hostModel] = "true"
            for feature in host.definition.features where feature.policy == .require {
                labels[KubeVirt.hostModelRequiredFeatureLabelPrefix + feature.name] = "true"
            }
        }
        if let vendor = host.definition.vendor { labels[KubeVirt.vendorLabelPrefix + vendor] = "true" }
        return .init(name: name, path: host.definition.path, hostModel: host.definition.model,
                     vendor: host.definition.vendor, labels: labels, models: models)
    }

    /// Every node's labels and the model all of them can run.
    ///
    /// - Parameters:
    ///   - nodes: Each node's name and domcapabilities, in output order.
    ///   - obsoleteModels: The models never labelled.
    /// - Returns: The export.
    /// - Throws: `CPUCompatError.invalidCPU` for a host not read from domcapabilities.
    public func kubeVirtExport(of nodes: [(name: String, host: CPU)],
                               obsoleteModels: [String] = KubeVirt.defaultObsoleteModels) throws(CPUCompatError) -> KubeVirtExport {
        var labelled: [KubeVirtExport.Node] = []
        for node in nodes { labelled.append(try kubeVirtNode(node.host, name: node.name, obsoleteModels: obsoleteModels)) }
        var common = Set(labelled.first?.models ?? [])
        for node in labelled.dropFirst() { common.formIntersection(node.models) }
        let known = common.compactMap { model(named: $0) }.sorted { $0.index > $1.index }
        let unknown = common.filter { model(named: $0) == nil }.sorted()
        // QEMU calls other vendors' models usable too (IvyBridge on an EPYC host); a VM of
        // the nodes' own vendor's model is what an operator means, so those come first.
        let vendors = Set(nodes.compactMap { $0.host.definition.vendor })
        let ownVendor = known.filter { $0.vendor != nil && vendors.count == 1 && vendors.contains($0.vendor ?? "") }
        var best: CPUModel?
        for candidate in (ownVendor.isEmpty ? known : ownVendor) where canonicalName(of: candidate) == nil {
            if best.map({ candidate.features.count > $0.features.count }) ?? true { best = candidate }
        }
        return KubeVirtExport(nodes: labelled, obsoleteModels: obsoleteModels,
                              commonModels: known.map(\.name) + unknown, cpuModel: best?.name)
    }
}

extension KubeVirtExport {
    /// One YAML document per node, a `Node` holding only `metadata.name` and
    /// `metadata.labels` (for `kubectl patch node NAME --type merge --patch-file`
    /// or `kubectl apply --server-side -f`), then, where every node runs a
    /// common model, a `KubeVirt` document setting `spec.configuration.cpuModel`.
    /// Keys are sorted; every string is double-quoted, so no value reads as a
    /// YAML boolean or number.
    ///
    /// - Parameters:
    ///   - kubeVirtNamespace: The KubeVirt CR's namespace.
    ///   - kubeVirtName: The KubeVirt CR's name.
    /// - Returns: The YAML stream, ending in a line break.
    public func yaml(kubeVirtNamespace: String = "kubevirt", kubeVirtName: String = "kubevirt") -> String {
        var documents: [String] = []
        for node in nodes {
            var lines = ["# \(Self.comment(node.path)): host-model \(Self.comment(node.hostModel ?? "none"))",
                         "apiVersion: v1", "kind: Node", "metadata:", "  name: \(Self.quoted(node.name))", "  labels:"]
            for key in node.labels.keys.sorted() {
                lines.append("    \(Self.quoted(key)): \(Self.quoted(node.labels[key] ?? ""))")
            }
            documents.append(lines.joined(separator: "\n"))
        }
        if let cpuModel {
            documents.append([
                "# the newest model every node labels cpu-model.node.kubevirt.io/ (also for a VM's spec.domain.cpu.model)",
                "apiVersion: kubevirt.io/v1", "kind: KubeVirt", "metadata:",
                "  name: \(Self.quoted(kubeVirtName))", "  namespace: \(Self.quoted(kubeVirtNamespace))",
                "spec:", "  configuration:", "    cpuModel: \(Self.quoted(cpuModel))",
            ].joined(separator: "\n"))
        } else {
            documents.append("# no CPU model is labelled cpu-model.node.kubevirt.io/ on every node")
        }
        return "---\n" + documents.joined(separator: "\n---\n") + "\n"
    }

    /// `kubectl label node NAME --overwrite KEY=true …` for each node, then the
    /// `kubectl patch kubevirt` that sets the common model.
    ///
    /// - Parameters:
    ///   - kubeVirtNamespace: The KubeVirt CR's namespace.
    ///   - kubeVirtName: The KubeVirt CR's name.
    /// - Returns: Shell commands, one a line, every word single-quoted where needed.
    public func kubectlCommands(kubeVirtNamespace: String = "kubevirt", kubeVirtName: String = "kubevirt") -> String {
        var lines: [String] = []
        for node in nodes {
            let pairs = node.labels.keys.sorted().map { Self.shellWord("\($0)=\(node.labels[$0] ?? "")") }
            lines.append((["kubectl", "label", "node", Self.shellWord(node.name), "--overwrite"] + pairs).joined(separator: " "))
        }
        if let cpuModel {
            let patch = "{\"spec\":{\"configuration\":{\"cpuModel\":\"\(cpuModel)\"}}}"
            lines.append(["kubectl", "patch", "kubevirt", Self.shellWord(kubeVirtName), "-n", Self.shellWord(kubeVirtNamespace),
                          "--type", "merge", "-p", Self.shellWord(patch)].joined(separator: " "))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A YAML double-quoted scalar: `"` and `\` escaped, control characters as `\uXXXX`.
    static func quoted(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                let hex = String(scalar.value, radix: 16)
                result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }

    /// Text for a YAML comment: one line, whatever the input holds.
    static func comment(_ text: String) -> String { CPUCompatError.oneLine(text) }

    /// A word the shell reads as itself.
    static func shellWord(_ text: String) -> String {
        let plain = !text.isEmpty && text.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || "-_./=:".unicodeScalars.contains($0)
        }
        return plain ? text : "'" + text.replacingAll("'", with: "'\\''") + "'"
    }
}

extension String {
    /// The string with every `target` replaced (no Foundation in the library).
    func replacingAll(_ target: Character, with replacement: String) -> String {
        var result = ""
        for character in self { if character == target { result += replacement } else { result.append(character) } }
        return result
    }
}
