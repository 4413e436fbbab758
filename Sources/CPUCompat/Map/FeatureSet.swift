/// A set of CPU features of one architecture, stored as bits indexed by the
/// features' positions in the CPU map.
///
/// Iterating yields feature indices in ascending order, which is CPU-map
/// order — the order libvirt lists features in. An index means a feature
/// only within the ``CPUArchitecture`` whose ``CPUFeature/index`` it is, so
/// sets of different architectures or maps must not be mixed;
/// ``CPUArchitecture/names(of:)`` turns a set into names.
///
/// The operations are named as `SetAlgebra`'s (the type does not conform to
/// it) and work on 64 features at a time, so their cost grows with the size
/// of the map, not with how many features the sets hold.
public struct FeatureSet: Hashable, Sendable, Sequence {
    private var words: [UInt64]

    /// The empty set.
    public init() { words = [] }

    /// A set holding the given feature indices.
    ///
    /// - Parameter indices: Feature indices (``CPUFeature/index``), in any
    ///   order, repeats allowed; each must be non-negative.
    public init<S: Sequence>(_ indices: S) where S.Element == Int {
        words = []
        for index in indices { insert(index) }
    }

    /// Whether the set holds no feature.
    public var isEmpty: Bool { words.allSatisfy { $0 == 0 } }

    /// The number of features in the set.
    public var count: Int { words.reduce(0) { $0 + $1.nonzeroBitCount } }

    /// Whether the feature with map index `index` is in the set.
    ///
    /// - Parameter index: A non-negative feature index (``CPUFeature/index``).
    /// - Returns: True if the set holds it.
    public func contains(_ index: Int) -> Bool {
        let word = index >> 6
        return word < words.count && words[word] & (1 << UInt64(index & 63)) != 0
    }

    /// Adds the feature with map index `index`; nothing changes if the set holds it already.
    ///
    /// - Parameter index: A feature index (``CPUFeature/index``).
    /// - Precondition: `index >= 0`.
    public mutating func insert(_ index: Int) {
        precondition(index >= 0, "feature indices are non-negative")
        let word = index >> 6
        if word >= words.count { words.append(contentsOf: repeatElement(0, count: word - words.count + 1)) }
        words[word] |= 1 << UInt64(index & 63)
    }

    /// Removes the feature with map index `index`; nothing changes if the set does not hold it.
    ///
    /// - Parameter index: A non-negative feature index (``CPUFeature/index``).
    public mutating func remove(_ index: Int) {
        let word = index >> 6
        guard word < words.count else { return }
        words[word] &= ~(1 << UInt64(index & 63))
    }

    /// Adds every feature of `other`.
    ///
    /// - Parameter other: A set of the same architecture.
    public mutating func formUnion(_ other: FeatureSet) {
        if other.words.count > words.count {
            words.append(contentsOf: repeatElement(0, count: other.words.count - words.count))
        }
        for i in other.words.indices { words[i] |= other.words[i] }
    }

    /// Keeps only the features `other` also has.
    ///
    /// - Parameter other: A set of the same architecture.
    public mutating func formIntersection(_ other: FeatureSet) {
        for i in words.indices { words[i] &= i < other.words.count ? other.words[i] : 0 }
    }

    /// Removes every feature of `other`.
    ///
    /// - Parameter other: A set of the same architecture.
    public mutating func subtract(_ other: FeatureSet) {
        for i in words.indices where i < other.words.count { words[i] &= ~other.words[i] }
    }

    /// The features in either set.
    ///
    /// - Parameter other: A set of the same architecture.
    /// - Returns: A new set with the features of both.
    public func union(_ other: FeatureSet) -> FeatureSet { var copy = self; copy.formUnion(other); return copy }
    /// The features in both sets.
    ///
    /// - Parameter other: A set of the same architecture.
    /// - Returns: A new set with the features the two sets share.
    public func intersection(_ other: FeatureSet) -> FeatureSet { var copy = self; copy.formIntersection(other); return copy }
    /// The features in this set and not in `other`.
    ///
    /// - Parameter other: A set of the same architecture.
    /// - Returns: A new set with this set's features that `other` lacks.
    public func subtracting(_ other: FeatureSet) -> FeatureSet { var copy = self; copy.subtract(other); return copy }

    /// Whether every feature of this set is in `other`: for a guest's
    /// features and a host's, whether the host has everything the guest does.
    ///
    /// - Parameter other: A set of the same architecture.
    /// - Returns: True if this set holds no feature that `other` lacks (the empty set is a subset of any).
    public func isSubset(of other: FeatureSet) -> Bool {
        for i in words.indices where words[i] & ~(i < other.words.count ? other.words[i] : 0) != 0 { return false }
        return true
    }

    /// Whether two sets hold the same features, however much storage each has.
    ///
    /// - Parameters:
    ///   - lhs: A set.
    ///   - rhs: Another set of the same architecture.
    /// - Returns: True if every index is in both sets or in neither.
    public static func == (lhs: FeatureSet, rhs: FeatureSet) -> Bool {
        let count = Swift.max(lhs.words.count, rhs.words.count)
        for i in 0..<count where lhs.word(i) != rhs.word(i) { return false }
        return true
    }

    /// Hashes the set's words up to the last non-zero one, so that equal sets
    /// hash alike however much storage each has.
    ///
    /// - Parameter hasher: The hasher to feed.
    public func hash(into hasher: inout Hasher) {
        var end = words.count
        while end > 0, words[end - 1] == 0 { end -= 1 }
        for i in 0..<end { hasher.combine(words[i]) }
    }

    private func word(_ i: Int) -> UInt64 { i < words.count ? words[i] : 0 }

    /// An iterator over the set's feature indices.
    ///
    /// - Returns: An iterator that yields the indices in ascending (map) order.
    public func makeIterator() -> Iterator { Iterator(words: words) }

    /// Yields the indices in the set in ascending order, over a copy of the
    /// set taken when the iterator was made.
    public struct Iterator: IteratorProtocol {
        fileprivate let words: [UInt64]
        private var wordIndex = 0
        private var current: UInt64

        fileprivate init(words: [UInt64]) {
            self.words = words
            current = words.first ?? 0
        }

        /// Advances to the next feature index.
        ///
        /// - Returns: The next index in ascending order, or nil after the last.
        public mutating func next() -> Int? {
            while current == 0 {
                wordIndex += 1
                guard wordIndex < words.count else { return nil }
                current = words[wordIndex]
            }
            let bit = current.trailingZeroBitCount
            current &= current - 1
            return wordIndex << 6 | bit
        }
    }

    /// Whether every index in the set is below `count` (a snapshot's bitmaps
    /// must name only features it defines).
    func isWithin(count: Int) -> Bool {
        for (position, word) in words.enumerated() where word != 0 {
            let first = position << 6
            if first >= count { return false }
            if count - first < 64, word >> UInt64(count - first) != 0 { return false }
        }
        return true
    }

    /// How many 64-bit words the set occupies.
    var wordCount: Int { words.count }

    /// Copies the set's words into `buffer` from `offset` (a flat table of
    /// sets for loops that test millions of pairs).
    func copyWords(into buffer: inout [UInt64], at offset: Int) {
        for (position, word) in words.enumerated() { buffer[offset + position] = word }
    }

    /// The set as hexadecimal, least significant word first (the snapshot format).
    var hexWords: String {
        var end = words.count
        while end > 0, words[end - 1] == 0 { end -= 1 }
        return words[..<end].map { String($0, radix: 16) }.joined(separator: ",")
    }

    /// Reads `hexWords`' format back, from the snapshot's bytes (the
    /// built-in map holds a few hundred of these, read on every run).
    init?(hexWords: UnsafeBufferPointer<UInt8>) {
        words = []
        guard !hexWords.isEmpty else { return }
        words.reserveCapacity(hexWords.count / 17 + 1)
        var word: UInt64 = 0
        var digits = 0
        for byte in hexWords {
            let digit: UInt64
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt64(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt64(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: ","):
                guard digits > 0 else { return nil }
                words.append(word)
                word = 0
                digits = 0
                continue
            default: return nil
            }
            guard digits < 16 else { return nil }
            word = word << 4 | digit
            digits += 1
        }
        guard digits > 0 else { return nil }
        words.append(word)
    }
}
