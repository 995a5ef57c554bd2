import Foundation
import Mechanic

/// Which residual vector stands for a token at the input of a head's OV circuit.
public enum CopyEmbedding: String, Sendable, CaseIterable {
    /// The token embedding `W_E[t]` (the standard full OV circuit `W_E · OV · W_U`).
    case direct
    /// The "effective embedding" `W_E[t] + MLP₀(ln2₀(W_E[t]))`: later heads read tokens after the
    /// first MLP, which in GPT-2 acts as an extended embedding (the IOI paper's copying scores).
    case effective
}

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
    /// Residual vectors `[d_vocab, d_model]` standing for each token at a head's input.
    public func tokenEmbeddings(_ kind: CopyEmbedding) throws -> Tensor {
        switch kind {
        case .direct: return weights.W_E
        case .effective: return try effectiveEmbedding(weights.W_E)
        }
    }

    /// `x + MLP₀(ln2₀(x))` for rows `x [n, d_model]` (the first block's MLP applied to the embedding).
    public func effectiveEmbedding(_ x: Tensor, blockRows: Int = 1024) throws -> Tensor {
        let b = weights.blocks[0]
        guard !config.attnOnly, let W_in = b.W_in, let W_out = b.W_out else {
            throw MechanicError.invalidArgument("the effective embedding needs an MLP in block 0; this model is attention-only")
        }
        let act = Activation(rawValue: config.actFn) ?? .geluNew
        let D = config.dModel
        let n = x.count / D
        var out = x
        var start = 0
        while start < n {
            let rows = min(blockRows, n - start)
            var chunk = Tensor(shape: [rows, D], data: Array(x.data[(start * D)..<((start + rows) * D)]))  // [rows, d_model]
            HeadsNorm.apply(&chunk, config.normalization, weight: b.ln2W, bias: b.ln2B, eps: config.eps)
            var post: Tensor
            if let W_gate = b.W_gate {
                post = chunk.linear(W_gate)                       // [rows, d_mlp]
                let lin = chunk.linear(W_in)                      // [rows, d_mlp]
                let d = b.b_in?.count ?? 0
                for i in post.data.indices {
                    post.data[i] = act.apply(post.data[i]) * lin.data[i] + (d > 0 ? (b.b_in?.data[i % d] ?? 0) : 0)
                }
            } else {
                post = chunk.linear(W_in, bias: b.b_in)           // [rows, d_mlp]
                post.data.withUnsafeMutableBufferPointer { act.apply($0) }
            }
            let mlpOut = post.linear(W_out, bias: b.b_out)        // [rows, d_model]
            for i in 0..<(rows * D) { out.data[start * D + i] += mlpOut.data[i] }
            start += rows
        }
        return out
    }

    /// The full OV circuit of a head, `embed · W_V[h] · W_O[h] · W_U` `[d_vocab, d_vocab]`, factored
    /// through `d_head` as TransformerLens's `W_E @ OV @ W_U` is: `A = embed · W_V`, `B = W_O · W_U`.
    public func fullOVCircuit(layer: Int, head: Int, embedding: Tensor) throws -> FactoredMatrix {
        try headsCheck(layer, head)
        let ov = ovUnchecked(layer, head)
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
        let embed = try tokenEmbeddings(options.embedding)
        let unscored = [Float](repeating: .nan, count: L * H)
        var fraction = Tensor(shape: [L, H], data: unscored)
        var eigen = fraction, positive = fraction
        for (l, h) in selected {
            let circuit = try fullOVCircuit(layer: l, head: h, embedding: embed)
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
            let counts = UnsafeCounter(rows)
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

/// One slot per concurrent iteration (each written by exactly one iteration).
final class UnsafeCounter: @unchecked Sendable {
    private var slots: [Int]
    init(_ n: Int) { slots = [Int](repeating: 0, count: n) }
    func set(_ i: Int, _ v: Int) { slots.withUnsafeMutableBufferPointer { $0[i] = v } }
    var total: Int { slots.reduce(0, +) }
}

/// Layer norm / RMS norm of rows in place, with the model's (possibly folded-away) weights.
enum HeadsNorm {
    static func apply(_ x: inout Tensor, _ kind: ModelConfig.Normalization, weight: Tensor?, bias: Tensor?, eps: Float) {
        guard kind != .none else { return }
        let d = x.shape.last ?? 1
        let rows = x.count / d
        let center = kind == .layerNorm || kind == .layerNormPre
        for r in 0..<rows {
            let o = r * d
            if center {
                var mean: Float = 0
                for j in 0..<d { mean += x.data[o + j] }
                mean /= Float(d)
                for j in 0..<d { x.data[o + j] -= mean }
            }
            var ss: Float = 0
            for j in 0..<d { ss += x.data[o + j] * x.data[o + j] }
            let inv = 1 / (ss / Float(d) + eps).squareRoot()
            for j in 0..<d {
                var v = x.data[o + j] * inv
                if let weight { v *= weight.data[j] }
                if let bias { v += bias.data[j] }
                x.data[o + j] = v
            }
        }
    }
}
