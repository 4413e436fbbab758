/// Reads CPU definitions from the documents operators have at hand.
///
/// Accepted documents, told apart by their root element:
/// - a bare `<cpu>`, or several `<cpu>` elements one after another (what
///   `virsh cpu-baseline` accepts), or any wrapper element holding `<cpu>`s;
/// - `virsh capabilities`: the `<host><cpu>`;
/// - `virsh domcapabilities`: the supported `host-model` `<mode>`, whose
///   `require` and `disable` features both count;
/// - a domain definition: its `<cpu>`.
public enum CPUDefinitionReader {
    /// Reads every CPU definition in the file at `path` (`-` for standard input).
    ///
    /// - Throws: `CPUCompatError` naming the file: unreadable, malformed, or
    ///   holding no CPU.
    public static func read(contentsOf path: String) throws(CPUCompatError) -> [CPUDefinition] {
        try read(FileSystem.read(path), path: path)
    }

    /// Reads every CPU definition in `bytes`, naming `path` in errors.
    public static func read(_ bytes: [UInt8], path: String) throws(CPUCompatError) -> [CPUDefinition] {
        let document = try parseAllowingSeveralRoots(bytes, path: path)
        guard let root = document.root else { throw .noCPU(path: path) }
        var definitions: [CPUDefinition] = []
        switch root.name {
        case "cpu":
            definitions.append(try definition(root, source: .cpu, arch: nil))
        case "capabilities":
            if let cpu = root.child("host")?.child("cpu") {
                definitions.append(try definition(cpu, source: .capabilities, arch: nil))
            }
        case "domainCapabilities":
            let arch = root.child("arch")?.trimmedText
            let hostModel = root.child("cpu")?.children.first {
                $0.name == "mode" && $0.attribute("name") == "host-model" && $0.attribute("supported") != "no"
            }
            if let hostModel, hostModel.child("model") != nil {
                var cpu = try definition(hostModel, source: .domainCapabilities, arch: arch)
                let custom = root.child("cpu")?.children.first { $0.name == "mode" && $0.attribute("name") == "custom" }
                cpu.declaredModels = (custom?.children ?? XMLElementSequence(document: root.document, first: nil))
                    .filter { $0.name == "model" }
                    .map { .init(name: $0.trimmedText, usable: $0.attribute("usable"),
                                 deprecated: $0.attribute("deprecated") == "yes", canonical: $0.attribute("canonical")) }
                definitions.append(cpu)
            }
        case "domain":
            if let cpu = root.child("cpu") {
                let arch = root.child("os")?.child("type")?.attribute("arch")
                definitions.append(try definition(cpu, source: .domain, arch: arch))
            }
        default:
            for cpu in root.children where cpu.name == "cpu" {
                definitions.append(try definition(cpu, source: .cpu, arch: nil))
            }
        }
        guard !definitions.isEmpty else { throw .noCPU(path: path) }
        return definitions
    }

    /// Parses `bytes`; when they hold several top-level elements (concatenated
    /// `<cpu>`s), parses them again inside a wrapper, on the same lines.
    private static func parseAllowingSeveralRoots(_ bytes: [UInt8], path: String) throws(CPUCompatError) -> XMLDocument {
        do {
            return try XMLDocument.parse(bytes, path: path)
        } catch let error {
            guard case let .malformedXML(_, _, message) = error, message.hasPrefix("Extra content at the end") else {
                throw error
            }
            var body = bytes[...]
            if body.starts(with: Array("<?xml".utf8)), let end = findDeclarationEnd(body) {
                body = body[end...]
            }
            let wrapped = Array("<cpucompat-wrapper>".utf8) + body + Array("</cpucompat-wrapper>".utf8)
            guard let document = try? XMLDocument.parse(wrapped, path: path) else { throw error }
            return document
        }
    }

    private static func findDeclarationEnd(_ bytes: ArraySlice<UInt8>) -> Int? {
        var index = bytes.startIndex
        while index + 1 < bytes.endIndex {
            if bytes[index] == UInt8(ascii: "?"), bytes[index + 1] == UInt8(ascii: ">") { return index + 2 }
            index += 1
        }
        return nil
    }

    private static func definition(_ element: XMLElement, source: CPUDefinition.Source,
                                   arch documentArch: String?) throws(CPUCompatError) -> CPUDefinition {
        let path = element.document.path
        let model = element.child("model")
        var definition = CPUDefinition(
            path: path, line: element.line, source: source,
            arch: element.child("arch")?.trimmedText ?? documentArch,
            mode: source == .domainCapabilities ? "host-model" : element.attribute("mode"),
            match: element.attribute("match"),
            model: model.map(\.trimmedText).flatMap { $0.isEmpty ? nil : $0 },
            fallback: model?.attribute("fallback"),
            vendor: element.child("vendor").map(\.trimmedText).flatMap { $0.isEmpty ? nil : $0 },
            features: [])
        for feature in element.children where feature.name == "feature" {
            guard let name = feature.attribute("name"), !name.isEmpty else {
                throw .invalidCPU(path: path, line: feature.line, message: "a <feature> has no name")
            }
            var policy: FeaturePolicy?
            if let text = feature.attribute("policy") {
                guard let known = FeaturePolicy(rawValue: text) else {
                    throw .invalidCPU(path: path, line: feature.line, message: "invalid CPU feature policy '\(text)' for \(name)")
                }
                policy = known
            }
            definition.features.append(.init(name: name, policy: policy, line: feature.line))
        }
        return definition
    }
}

extension CPUDefinitionReader {
    /// The bytes of the file at `path` (`-` for standard input), for callers
    /// that rewrite documents rather than read CPUs from them.
    public static func readBytes(contentsOf path: String) throws(CPUCompatError) -> [UInt8] {
        try FileSystem.read(path)
    }
}
