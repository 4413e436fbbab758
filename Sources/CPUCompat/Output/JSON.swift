/// A JSON value, rendered deterministically: object keys sorted, two-space
/// indentation, no trailing white space. cpucompat's reports become JSON
/// through `JSONValue(encoding:)`, so the JSON always says what the Swift
/// values say.
package enum JSONValue: Hashable, Sendable {
    case null
    case bool(Bool)
    case int(Int)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// The value encoded from any `Encodable`.
    package init<T: Encodable>(encoding value: T) throws {
        let encoder = JSONValueEncoder()
        try value.encode(to: encoder)
        self = encoder.storage.value
    }

    /// The JSON text, pretty-printed with sorted keys, ending in a newline.
    package var rendered: String {
        var output = ""
        render(into: &output, indent: "")
        return output + "\n"
    }

    private func render(into output: inout String, indent: String) {
        switch self {
        case .null: output += "null"
        case let .bool(value): output += value ? "true" : "false"
        case let .int(value): output += String(value)
        case let .string(value): Self.quote(value, into: &output)
        case let .array(values):
            guard !values.isEmpty else { output += "[]"; return }
            let inner = indent + "  "
            output += "[\n"
            for (i, value) in values.enumerated() {
                output += inner
                value.render(into: &output, indent: inner)
                output += i == values.count - 1 ? "\n" : ",\n"
            }
            output += indent + "]"
        case let .object(members):
            guard !members.isEmpty else { output += "{}"; return }
            let inner = indent + "  "
            output += "{\n"
            let keys = members.keys.sorted()
            for (i, key) in keys.enumerated() {
                output += inner
                Self.quote(key, into: &output)
                output += ": "
                members[key, default: .null].render(into: &output, indent: inner)
                output += i == keys.count - 1 ? "\n" : ",\n"
            }
            output += indent + "}"
        }
    }

    private static func quote(_ string: String, into output: inout String) {
        output += "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                output += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: output.unicodeScalars.append(scalar)
            }
        }
        output += "\""
    }
}

/// A reference cell the encoder's containers write into.
private final class JSONSlot {
    var value: JSONValue = .null
}

/// A minimal `Encoder` producing `JSONValue`; nil optionals are left out.
private struct JSONValueEncoder: Encoder {
    let storage = JSONSlot()
    var codingPath: [any CodingKey] = []
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if case .object = storage.value {} else { storage.value = .object([:]) }
        return KeyedEncodingContainer(KeyedContainer<Key>(slot: storage, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        storage.value = .array([])
        return UnkeyedContainer(slot: storage, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        SingleContainer(slot: storage, codingPath: codingPath)
    }

    static func encode<T: Encodable>(_ value: T, at path: [any CodingKey]) throws -> JSONValue {
        switch value {
        case let string as String: return .string(string)
        case let int as Int: return .int(int)
        case let bool as Bool: return .bool(bool)
        default:
            let encoder = JSONValueEncoder(codingPath: path)
            try value.encode(to: encoder)
            return encoder.storage.value
        }
    }

    struct KeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let slot: JSONSlot
        var codingPath: [any CodingKey]

        private func set(_ key: Key, _ value: JSONValue) {
            guard case var .object(members) = slot.value else { return }
            members[key.stringValue] = value
            slot.value = .object(members)
        }

        mutating func encodeNil(forKey key: Key) throws { set(key, .null) }
        mutating func encode(_ value: Bool, forKey key: Key) throws { set(key, .bool(value)) }
        mutating func encode(_ value: String, forKey key: Key) throws { set(key, .string(value)) }
        mutating func encode(_ value: Int, forKey key: Key) throws { set(key, .int(value)) }
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
            set(key, try JSONValueEncoder.encode(value, at: codingPath + [key]))
        }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type,
                                                            forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
            let nested = JSONValueEncoder(codingPath: codingPath + [key])
            let container = nested.container(keyedBy: keyType)
            set(key, nested.storage.value)
            return container
        }
        mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
            let nested = JSONValueEncoder(codingPath: codingPath + [key])
            return nested.unkeyedContainer()
        }
        mutating func superEncoder() -> any Encoder { JSONValueEncoder(codingPath: codingPath) }
        mutating func superEncoder(forKey key: Key) -> any Encoder { JSONValueEncoder(codingPath: codingPath + [key]) }
    }

    struct UnkeyedContainer: UnkeyedEncodingContainer {
        let slot: JSONSlot
        var codingPath: [any CodingKey]
        var count: Int {
            if case let .array(values) = slot.value { return values.count }
            return 0
        }

        private func append(_ value: JSONValue) {
            guard case var .array(values) = slot.value else { return }
            values.append(value)
            slot.value = .array(values)
        }

        mutating func encodeNil() throws { append(.null) }
        mutating func encode(_ value: Bool) throws { append(.bool(value)) }
        mutating func encode(_ value: String) throws { append(.string(value)) }
        mutating func encode(_ value: Int) throws { append(.int(value)) }
        mutating func encode<T: Encodable>(_ value: T) throws { append(try JSONValueEncoder.encode(value, at: codingPath)) }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
            JSONValueEncoder(codingPath: codingPath).container(keyedBy: keyType)
        }
        mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
            JSONValueEncoder(codingPath: codingPath).unkeyedContainer()
        }
        mutating func superEncoder() -> any Encoder { JSONValueEncoder(codingPath: codingPath) }
    }

    struct SingleContainer: SingleValueEncodingContainer {
        let slot: JSONSlot
        var codingPath: [any CodingKey]
        mutating func encodeNil() throws { slot.value = .null }
        mutating func encode(_ value: Bool) throws { slot.value = .bool(value) }
        mutating func encode(_ value: String) throws { slot.value = .string(value) }
        mutating func encode(_ value: Int) throws { slot.value = .int(value) }
        mutating func encode<T: Encodable>(_ value: T) throws { slot.value = try JSONValueEncoder.encode(value, at: codingPath) }
    }
}
