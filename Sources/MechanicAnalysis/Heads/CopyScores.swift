import Foundation
import Mechanic

/// Options of the copy scores.
public struct CopyScoreOptions: Sendable {
    public var embedding: CopyEmbedding
    /// A token counts as copied when it is within the top `k` of its own OV-circuit output row.
    public var topK: Int
    /// Heads to score; nil = all (the others are NaN: −1 is a valid eigenvalue score).
    public var heads: [(layer: Int, head: Int)]?
    /// Source tokens per streamed block of the `[d_vocab, d_vocab]` circuit.
    public var blockRows: Int

    public init(embedding: CopyEmbedding = .direct, topK: Int = 1, heads: [(layer: Int, head: Int)]? = nil, blockRows: Int = 512) {
        self.embedding = embedding
        self.topK = topK
        self.heads = heads
        self.blockRows = blockRows
    }
}

/// Per-head copy scores over the whole vocabulary, `[n_layers, n_heads]` each (NaN for heads not scored).
public struct VocabularyCopyScores: Sendable {
    public var topK: Int
    /// Fraction of tokens whose own id is within the top `k` of `embed(t) · OV · W_U`.
    public var topKFraction: Tensor
    /// `Re(Σλ) / Σ|λ|` over the eigenvalues λ of the full OV circuit (Elhage et al.'s copying score:
    /// 1 when every eigenvalue is positive, −1 when every one is negative).
    public var eigenScore: Tensor
    /// `Σ max(Re λ, 0) / Σ|λ|`: the share of eigenvalue mass on the positive real side.
    public var positiveEigenFraction: Tensor
}

extension HookedTransformer {
    /// The full OV circuit of a head, `embed · W_V[h] · W_O[h] · W_U` `[d_vocab, d_vocab]`, factored
    /// through `d_head` as TransformerLens's `W_E @ OV @ W_U` is: `A = embed · W_V`, `B = W_O · W_U`.
    public func fullOVCircuit(layer: Int, head: Int, embedding: Tensor) throws -> FactoredMatrix {
        try headsCheck(layer, head)
        return fullOVCircuit(try block(layer), head: head, embedding: embedding)
    }

    /// The full OV circuit of head `head` of the layer whose weights are `b`.
    func fullOVCircuit(_ b: BlockWeights, head: Int, embedding: Tensor) -> FactoredMatrix {
        let ov = ov(b, head)
        return FactoredMatrix(checked: embedding.linear(ov.A), ov.B.linear(weights.W_U))  // [vocab, d_head], [d_head, vocab]
    }

    /// Copy scores of every head (or `options.heads`) over the whole vocabulary. The `[d_vocab,
    /// d_vocab]` circuit is never formed: blocks of source tokens are multiplied through `d_head`
    /// and reduced to ranks at once.
    public func copyScores(_ options: CopyScoreOptions = CopyScoreOptions()) throws -> VocabularyCopyScores {
        guard options.topK >= 1 else { throw MechanicError.invalidArgument("top-k must be at least 1 (got \(options.topK))") }
        let (L, H) = (config.nLayers, config.nHeads)
        let selected = options.heads ?? (0..<L).flatMap { l in (0..<H).map { (layer: l, head: $0) } }
        for (l, h) in selected { try headsCheck(l, h) }
        let embed = try ovInputEmbeddings(options.embedding)
        let unscored = [Float](repeating: .nan, count: L * H)
        var fraction = Tensor(shape: [L, H], data: unscored)
        var eigen = fraction, positive = fraction
        var layerBlock = LayerBlock(self)
        for (l, h) in selected {
            let circuit = fullOVCircuit(try layerBlock(l), head: h, embedding: embed)
            fraction[l, h] = Float(HeadsCopyKernel.selfRankFraction(circuit, topK: options.topK, blockRows: max(options.blockRows, 1)))
            let values = try circuit.eigenvalues
            let total = values.reduce(0.0) { $0 + $1.magnitude }
            eigen[l, h] = Float(values.reduce(0.0) { $0 + $1.real } / total)
            positive[l, h] = Float(values.reduce(0.0) { $0 + max($1.real, 0) } / total)
        }
        return VocabularyCopyScores(topK: options.topK, topKFraction: fraction, eigenScore: eigen, positiveEigenFraction: positive)
    }
}

/// The streamed rank computation.
enum HeadsCopyKernel {
    /// Fraction of rows `t` of `A · B` (square) in which entry `t` is among the `topK` largest.
    /// Ties rank the smaller index first, as `argmax` does (so an all-zero row copies only token 0).
    static func selfRankFraction(_ m: FactoredMatrix, topK: Int, blockRows: Int) -> Double {
        let (n, e) = (m.ldim, m.mdim)
        var hits = 0
        var start = 0
        while start < n {
            let rows = min(blockRows, n - start)
            let a = Tensor(shape: [rows, e], data: Array(m.A.data[(start * e)..<((start + rows) * e)]))  // [rows, d_head]
            let block = MechanicTensor.matmul(a, m.B)                                                    // [rows, vocab]
            let counts = HeadsRowFlags(rows)
            let first = start
            block.data.withUnsafeBufferPointer { buf in
                guard let address = buf.baseAddress.map({ Int(bitPattern: $0) }) else { return }
                DispatchQueue.concurrentPerform(iterations: rows) { i in
                    guard let base = UnsafePointer<Float>(bitPattern: address) else { return }
                    let row = base + i * n
                    let t = first + i
                    let own = row[t]
                    var ahead = 0  // entries ranked before t: larger, or equal at a smaller index (argmax's tie rule)
                    for j in 0..<n where row[j] > own || (row[j] == own && j < t) {
                        ahead += 1
                        if ahead >= topK { break }
                    }
                    counts.set(i, ahead < topK ? 1 : 0)
                }
            }
            hits += counts.total
            start += rows
        }
        return Double(hits) / Double(n)
    }

    /// Rank (1 = largest; ties to the smaller index) and value of `row[target]`.
    static func rank(of target: Int, in row: ArraySlice<Float>) -> (rank: Int, value: Float) {
        let v = row[row.startIndex + target]
        var ahead = 0
        for (j, x) in row.enumerated() where x > v || (x == v && j < target) { ahead += 1 }
        return (1 + ahead, v)
    }
}

/// One slot per concurrent iteration (each written by exactly one iteration). The slots live in
/// memory allocated once: `Array.withUnsafeMutableBufferPointer` moves the array's buffer out for
/// the duration of the call, so calling it from several threads at once frees the buffer twice.
final class HeadsRowFlags: @unchecked Sendable {
    private let slots: UnsafeMutableBufferPointer<Int>
    init(_ n: Int) {
        slots = .allocate(capacity: n)
        slots.initialize(repeating: 0)
    }
    deinit { slots.deallocate() }
    func set(_ i: Int, _ v: Int) { slots[i] = v }
    var total: Int { slots.reduce(0, +) }
}
