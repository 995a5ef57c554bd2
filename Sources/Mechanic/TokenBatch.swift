/// Token ids of one forward pass: `batch` rows of equal length, with an attention mask
/// (1 = real token, 0 = padding). Padding may sit on either side; pad positions are neither
/// attended to nor counted in the loss, and positions count only real tokens.
public struct TokenBatch: Sendable, Equatable {
    public enum PaddingSide: String, Sendable, Codable { case left, right }

    public var ids: [[Int]]
    public var mask: [[Int]]

    /// One unpadded sequence.
    public init(_ ids: [Int]) {
        self.ids = [ids]
        self.mask = [Array(repeating: 1, count: ids.count)]
    }

    /// Rows of equal length with an explicit mask (all ones when nil).
    public init(ids: [[Int]], mask: [[Int]]? = nil) throws {
        guard let n = ids.first?.count else { throw MechanicError.emptyInput("a batch needs at least one sequence") }
        guard ids.allSatisfy({ $0.count == n }) else {
            throw MechanicError.raggedBatch("rows have lengths \(ids.map(\.count)); pad them or use TokenBatch.padding")
        }
        let m = mask ?? ids.map { Array(repeating: 1, count: $0.count) }
        guard m.count == ids.count, zip(m, ids).allSatisfy({ $0.count == $1.count }),
              m.allSatisfy({ $0.allSatisfy { $0 == 0 || $0 == 1 } }) else {
            throw MechanicError.raggedBatch("the attention mask must have the shape of the ids and hold only 0 and 1")
        }
        self.ids = ids
        self.mask = m
    }

    /// Pads sequences of different lengths with `padId` on `side`.
    public static func padding(_ seqs: [[Int]], padId: Int, side: PaddingSide = .right) throws -> TokenBatch {
        guard let n = seqs.map(\.count).max() else { throw MechanicError.emptyInput("a batch needs at least one sequence") }
        var ids: [[Int]] = [], mask: [[Int]] = []
        for s in seqs {
            let pad = [Int](repeating: padId, count: n - s.count)
            let zeros = [Int](repeating: 0, count: n - s.count), ones = [Int](repeating: 1, count: s.count)
            ids.append(side == .left ? pad + s : s + pad)
            mask.append(side == .left ? zeros + ones : ones + zeros)
        }
        return try TokenBatch(ids: ids, mask: mask)
    }

    public var batch: Int { ids.count }
    public var length: Int { ids.first?.count ?? 0 }
    public var isPadded: Bool { mask.contains { $0.contains(0) } }

    /// Row `b` without padding.
    public func tokens(_ b: Int) -> [Int] { zip(ids[b], mask[b]).filter { $0.1 == 1 }.map(\.0) }

    /// Index of the last real token of each row (where "the final position" is under padding).
    public var lastPositions: [Int] { mask.map { ($0.lastIndex(of: 1) ?? 0) } }
}
