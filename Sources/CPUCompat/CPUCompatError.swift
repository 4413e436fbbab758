/// Every error cpucompat reports. Each case carries the file and, where
/// known, the line it is about; `description` reads like a compiler
/// diagnostic: `kvm02.xml:14: Unknown CPU feature flush-l1d`.
public enum CPUCompatError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A file or folder could not be read, or is not one that can be (missing,
    /// unreadable, larger than 256 MiB, a folder or a device where a file is
    /// expected, a folder without `*.xml` files, a built-in map release
    /// cpucompat lacks); `reason` says which.
    case unreadable(path: String, reason: String)
    /// The bytes are not well-formed XML, or are refused before or while
    /// parsing (a DOCTYPE, an encoding other than UTF-8, a NUL byte, an empty
    /// file); `line` is where libxml2 saw the problem, if it said.
    case malformedXML(path: String, line: Int?, message: String)
    /// The document holds no CPU definition cpucompat can read.
    case noCPU(path: String)
    /// A feature name that the CPU map does not define, under any alias;
    /// `hint` names the built-in maps of other libvirt releases that do,
    /// or else the map's nearest names (`did you mean …?`).
    case unknownFeature(name: String, path: String, line: Int?, hint: String? = nil)
    /// A CPU model name that the CPU map does not define; `hint` names the
    /// built-in maps of other libvirt releases that do, or else the map's
    /// nearest names (`did you mean …?`).
    case unknownModel(name: String, path: String, line: Int?, hint: String? = nil)
    /// A name that is neither a model nor a feature of the CPU map, with the
    /// map's nearest names; `hint` names other releases' maps that define it.
    case unknownName(name: String, nearest: [String], hint: String? = nil)
    /// A vendor name that the CPU map does not define.
    case unknownVendor(name: String, path: String, line: Int?)
    /// Well-formed XML that is not a usable CPU definition or domain (a
    /// feature given twice, an architecture the map lacks, several CPUs
    /// where one is expected, a domain with several `<cpu>`s, a baseline input
    /// without a model, a CPU that is not x86); `message` says what.
    case invalidCPU(path: String, line: Int?, message: String)
    /// A guest definition where a host's CPU is expected; `reason` says what it is and what to give.
    case notAHost(path: String, line: Int?, reason: String)
    /// A CPU map that cannot be used (duplicate or missing definitions, bad
    /// includes, an unreadable snapshot, no x86 part where one is needed).
    case invalidMap(path: String, line: Int?, message: String)
    /// A computation over several CPUs that cannot succeed (different vendors,
    /// nothing in common, no model that fits, no CPUs at all); the message says which.
    case incompatible(message: String)
    /// A host that `collect` cannot collect, because of its name (its files
    /// are named after it) or because it is given twice; `path` and `line`
    /// are where a hosts file names it.
    case invalidHost(name: String, path: String?, line: Int?, reason: String)
    /// Writing or replacing a file, or writing to standard output, failed;
    /// `reason` says why (and, after a backup was written, what it holds).
    case unwritable(path: String, reason: String)

    /// The diagnostic: always one line, control characters from the input
    /// shown escaped, and words from the input shortened past 200 characters,
    /// so no input can forge or flood further lines: C0 and C1 controls, DEL,
    /// U+2028 and U+2029 are shown as escapes.
    public var description: String { Self.oneLine(rawDescription) }

    private var rawDescription: String {
        switch self {
        case let .unreadable(path, reason): "\(path): \(reason)"
        case let .malformedXML(path, line, message): "\(Self.location(path, line))\(message)"
        case let .noCPU(path): "\(path): no CPU definition found"
        case let .unknownFeature(name, path, line, hint):
            "\(Self.location(path, line))Unknown CPU feature \(name)" + (hint.map { ": " + $0 } ?? "")
        case let .unknownModel(name, path, line, hint):
            "\(Self.location(path, line))Unknown CPU model \(name)" + (hint.map { ": " + $0 } ?? "")
        case let .unknownName(name, nearest, hint):
            "no CPU model or feature \(name) in the CPU map" + (hint.map { ": " + $0 } ?? "")
                + (nearest.isEmpty ? "" : " (did you mean \(nearest.joined(separator: ", "))?)")
        case let .unknownVendor(name, path, line): "\(Self.location(path, line))Unknown CPU vendor \(name)"
        case let .invalidCPU(path, line, message): "\(Self.location(path, line))\(message)"
        case let .invalidMap(path, line, message): "\(Self.location(path, line))\(message)"
        case let .notAHost(path, line, reason): "\(Self.location(path, line))\(reason)"
        case let .incompatible(message): message
        case let .unwritable(path, reason): "\(path): \(reason)"
        case let .invalidHost(name, path, line, reason): "\(path.map { Self.location($0, line) } ?? "")host \(name) \(reason)"
        }
    }

    /// `text` as one line: line breaks and other control characters (C0, DEL
    /// and C1, and the Unicode line and paragraph separators) shown escaped
    /// (`\n`, `\u{1b}`), and each word past 200 characters cut there with a
    /// `…`. Every diagnostic cpucompat prints goes through it.
    ///
    /// - Parameter text: A message that may hold text from input files.
    /// - Returns: The message, safe to print as one line.
    package static func oneLine(_ text: String) -> String {
        var result = ""
        var wordLength = 0
        for scalar in text.unicodeScalars {
            wordLength = scalar == " " ? 0 : wordLength + 1
            if wordLength > 200 {
                if wordLength == 201 { result += "…" }
                continue
            }
            switch scalar {
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
                || scalar.value == 0x2028 || scalar.value == 0x2029:
                result += "\\u{\(String(scalar.value, radix: 16))}"
            default:
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    private static func location(_ path: String, _ line: Int?) -> String {
        line.map { "\(path):\($0): " } ?? "\(path): "
    }
}
