/// A unified diff of a change confined to one stretch of lines, which is
/// what a `<cpu>` rewrite is: one hunk with three lines of context.
package enum UnifiedDiff {
    /// The diff from `old` to `new`, or an empty string when they are equal.
    ///
    /// - Parameters:
    ///   - oldName: The name on the `---` line.
    ///   - newName: The name on the `+++` line.
    package static func render(from old: [UInt8], to new: [UInt8], oldName: String, newName: String) -> String {
        guard old != new else { return "" }
        let a = lines(old), b = lines(new)
        var prefix = 0
        while prefix < a.count, prefix < b.count, a[prefix] == b[prefix] { prefix += 1 }
        var suffix = 0
        while suffix < a.count - prefix, suffix < b.count - prefix,
              a[a.count - 1 - suffix] == b[b.count - 1 - suffix] { suffix += 1 }
        let context = 3
        let start = max(0, prefix - context)
        let aEnd = min(a.count, a.count - suffix + context)
        let bEnd = min(b.count, b.count - suffix + context)
        var output = "--- \(oldName)\n+++ \(newName)\n"
        output += "@@ -\(range(start, aEnd - start)) +\(range(start, bEnd - start)) @@\n"
        for line in a[start..<prefix] { output += line.render(" ") }
        for line in a[prefix..<(a.count - suffix)] { output += line.render("-") }
        for line in b[prefix..<(b.count - suffix)] { output += line.render("+") }
        for line in a[(a.count - suffix)..<aEnd] { output += line.render(" ") }
        return output
    }

    private struct Line: Equatable {
        /// The line's bytes, without the line feed (a CR of CRLF stays).
        var bytes: ArraySlice<UInt8>
        var hasNewline: Bool

        func render(_ mark: String) -> String {
            mark + String(decoding: bytes, as: UTF8.self) + (hasNewline ? "\n" : "\n\\ No newline at end of file\n")
        }
    }

    /// Lines split at line feeds, on bytes: Swift's `Character` would take
    /// CRLF as one character and never match a lone `\n`.
    private static func lines(_ bytes: [UInt8]) -> [Line] {
        var result: [Line] = []
        var start = 0
        while start < bytes.count {
            if let newline = bytes[start...].firstIndex(of: 0x0A) {
                result.append(Line(bytes: bytes[start..<newline], hasNewline: true))
                start = newline + 1
            } else {
                result.append(Line(bytes: bytes[start...], hasNewline: false))
                break
            }
        }
        return result
    }

    private static func range(_ start: Int, _ count: Int) -> String {
        count == 0 ? "\(start),0" : count == 1 ? "\(start + 1)" : "\(start + 1),\(count)"
    }
}
