/// Where an element sits in a document's original bytes.
///
/// libxml2 tells what a document means but not where each byte came from,
/// so the rewriter finds element boundaries with this small scanner over
/// bytes libxml2 has already accepted as well-formed. It understands
/// comments, CDATA, processing instructions, a DOCTYPE, and quoted
/// attribute values (which may hold `>`).
struct ElementSpan: Equatable {
    /// The qualified name (`cpu`, `libosinfo:os`).
    var name: String
    /// Offset of the `<` that opens the start tag.
    var start: Int
    /// Offset just past the start tag's `>`.
    var startTagEnd: Int
    /// Offset just past the element's last byte (the end tag's `>`, or the start tag's for `<x/>`).
    var end: Int
    /// Whether the element is written `<x …/>`.
    var isSelfClosing: Bool
}

struct ElementScanner {
    let bytes: [UInt8]

    /// The document's root element.
    func root() -> ElementSpan? {
        var offset = 0
        while let next = nextMarkup(from: offset) {
            if case let .element(span) = next { return span }
            guard case let .other(end) = next else { return nil }
            offset = end
        }
        return nil
    }

    /// The child elements of `parent`, in document order.
    func children(of parent: ElementSpan) -> [ElementSpan] {
        guard !parent.isSelfClosing else { return [] }
        var result: [ElementSpan] = []
        var offset = parent.startTagEnd
        while let next = nextMarkup(from: offset) {
            switch next {
            case let .element(span):
                result.append(span)
                offset = span.end
            case let .other(end):
                offset = end
            case .endTag:
                return result
            }
        }
        return result
    }

    private enum Markup {
        case element(ElementSpan)
        case endTag
        case other(end: Int)
    }

    /// The next piece of markup at or after `offset`, skipping text.
    private func nextMarkup(from offset: Int) -> Markup? {
        guard let open = index(of: UInt8(ascii: "<"), from: offset), open + 1 < bytes.count else { return nil }
        switch bytes[open + 1] {
        case UInt8(ascii: "/"):
            return .endTag
        case UInt8(ascii: "?"):
            return find("?>", from: open + 2).map { .other(end: $0 + 2) }
        case UInt8(ascii: "!"):
            if matches("<!--", at: open) { return find("-->", from: open + 4).map { .other(end: $0 + 3) } }
            if matches("<![CDATA[", at: open) { return find("]]>", from: open + 9).map { .other(end: $0 + 3) } }
            return declarationEnd(from: open).map { .other(end: $0) }
        default:
            return element(at: open).map { .element($0) }
        }
    }

    /// The element whose start tag opens at `start`, with its extent.
    private func element(at start: Int) -> ElementSpan? {
        var nameEnd = start + 1
        while nameEnd < bytes.count, !isNameTerminator(bytes[nameEnd]) { nameEnd += 1 }
        let name = String(decoding: bytes[(start + 1)..<nameEnd], as: UTF8.self)
        guard let tagEnd = startTagEnd(from: nameEnd) else { return nil }
        if bytes[tagEnd - 2] == UInt8(ascii: "/") {
            return ElementSpan(name: name, start: start, startTagEnd: tagEnd, end: tagEnd, isSelfClosing: true)
        }
        var offset = tagEnd
        while let next = nextMarkup(from: offset) {
            switch next {
            case let .element(child):
                offset = child.end
            case let .other(end):
                offset = end
            case .endTag:
                guard let open = index(of: UInt8(ascii: "<"), from: offset),
                      let close = index(of: UInt8(ascii: ">"), from: open) else { return nil }
                return ElementSpan(name: name, start: start, startTagEnd: tagEnd, end: close + 1, isSelfClosing: false)
            }
        }
        return nil
    }

    /// Offset just past the `>` ending a start tag, skipping quoted values.
    private func startTagEnd(from offset: Int) -> Int? { markupEnd(from: offset, nestsBrackets: false) }

    /// Offset just past a `<!DOCTYPE …>`, including an internal subset in brackets.
    private func declarationEnd(from offset: Int) -> Int? { markupEnd(from: offset + 2, nestsBrackets: true) }

    /// Offset just past the first `>` from `offset` that is outside quotes
    /// (and, with `nestsBrackets`, outside `[…]`).
    private func markupEnd(from offset: Int, nestsBrackets: Bool) -> Int? {
        var depth = 0
        var quote: UInt8?
        var index = offset
        while index < bytes.count {
            let byte = bytes[index]
            if let open = quote {
                if byte == open { quote = nil }
            } else if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'") {
                quote = byte
            } else if nestsBrackets, byte == UInt8(ascii: "[") {
                depth += 1
            } else if nestsBrackets, byte == UInt8(ascii: "]") {
                depth -= 1
            } else if byte == UInt8(ascii: ">"), depth <= 0 {
                return index + 1
            }
            index += 1
        }
        return nil
    }

    private func isNameTerminator(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r")
            || byte == UInt8(ascii: ">") || byte == UInt8(ascii: "/")
    }

    private func index(of byte: UInt8, from offset: Int) -> Int? {
        var index = offset
        while index < bytes.count {
            if bytes[index] == byte { return index }
            index += 1
        }
        return nil
    }

    private func matches(_ text: String, at offset: Int) -> Bool {
        let pattern = Array(text.utf8)
        guard offset + pattern.count <= bytes.count else { return false }
        return bytes[offset..<(offset + pattern.count)].elementsEqual(pattern)
    }

    private func find(_ text: String, from offset: Int) -> Int? {
        let pattern = Array(text.utf8)
        var index = offset
        while index + pattern.count <= bytes.count {
            if bytes[index] == pattern[0], bytes[index..<(index + pattern.count)].elementsEqual(pattern) { return index }
            index += 1
        }
        return nil
    }
}
