/// Names close to a misspelt one, for "did you mean" in messages.
package enum NearestNames {
    /// Up to `limit` of `candidates` within a small edit distance of `name`
    /// (case-insensitive), nearest first, ties in candidate order.
    ///
    /// The distance is Levenshtein's over UTF-8 bytes; a candidate is close
    /// within two edits, or a third of `name`'s length in bytes if that is more.
    ///
    /// - Parameters:
    ///   - name: The misspelt name.
    ///   - candidates: The names that exist; repeats count once.
    ///   - limit: The most names to return.
    /// - Returns: The nearest names; empty when none is close.
    package static func nearest(to name: String, in candidates: some Sequence<String>, limit: Int = 3) -> [String] {
        let target = Array(name.lowercased().utf8)
        let allowed = max(2, target.count / 3)
        var scored: [(distance: Int, order: Int, name: String)] = []
        var seen: Set<String> = []
        for (order, candidate) in candidates.enumerated() where seen.insert(candidate).inserted {
            let distance = editDistance(target, Array(candidate.lowercased().utf8), bound: allowed)
            if distance <= allowed { scored.append((distance, order, candidate)) }
        }
        scored.sort { ($0.distance, $0.order) < ($1.distance, $1.order) }
        return scored.prefix(limit).map(\.name)
    }

    /// Levenshtein distance over bytes, stopping early above `bound`.
    private static func editDistance(_ a: [UInt8], _ b: [UInt8], bound: Int) -> Int {
        if abs(a.count - b.count) > bound { return bound + 1 }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            current[0] = i
            var rowMinimum = current[0]
            for j in 1...max(b.count, 1) where !b.isEmpty {
                let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
                current[j] = min(substitution, previous[j] + 1, current[j - 1] + 1)
                rowMinimum = min(rowMinimum, current[j])
            }
            if rowMinimum > bound { return bound + 1 }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
