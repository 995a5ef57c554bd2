import Foundation
import Mechanic

/// Which side of a later head an earlier head's output composes into
/// (Elhage et al., "A Mathematical Framework for Transformer Circuits").
public enum CompositionMode: String, Sendable, CaseIterable {
    case Q, K, V
}

extension HookedTransformer {
    /// Head `h`'s key/value head: query heads share key/value heads in groups (grouped-query
    /// attention); TransformerLens's `W_K`/`W_V` properties repeat each KV head `group_size` times.
    func circuitKVHead(_ head: Int) -> Int { head / config.groupSize }

    /// The weights of the layer asked last, kept while a loop walks heads layer by layer, so that
    /// a streamed model reads each block once rather than once per head.
    struct LayerBlock {
        let model: HookedTransformer
        private var cached: (layer: Int, block: BlockWeights)?

        init(_ model: HookedTransformer) { self.model = model }

        mutating func callAsFunction(_ l: Int) throws -> BlockWeights {
            if let cached, cached.layer == l { return cached.block }
            let b = try model.block(l)
            cached = (l, b)
            return b
        }
    }

    func headsCheck(_ layer: Int, _ head: Int) throws {
        guard (0..<config.nLayers).contains(layer), (0..<config.nHeads).contains(head) else {
            throw MechanicError.invalidArgument("head L\(layer)H\(head) does not exist (the model has \(config.nLayers) layers × \(config.nHeads) heads)")
        }
    }

    /// The OV circuit of one head, `W_V[h] · W_O[h]` (`[d_model, d_head] · [d_head, d_model]`).
    public func OV(layer: Int, head: Int) throws -> FactoredMatrix {
        try headsCheck(layer, head)
        return ov(try block(layer), head)
    }

    /// The QK circuit of one head, `W_Q[h] · W_K[h]ᵀ` (`[d_model, d_head] · [d_head, d_model]`):
    /// `resid_q · QK · resid_kᵀ` is the attention score before scaling (biases and rotary excluded).
    public func QK(layer: Int, head: Int) throws -> FactoredMatrix {
        try headsCheck(layer, head)
        return qk(try block(layer), head)
    }

    /// Every head's OV circuit, `[layer][head]` (TransformerLens's `model.OV`). Throws only when a
    /// streamed block cannot be read.
    public var OV: [[FactoredMatrix]] {
        get throws { try (0..<config.nLayers).map { l in let b = try block(l); return (0..<config.nHeads).map { ov(b, $0) } } }
    }

    /// Every head's QK circuit, `[layer][head]` (TransformerLens's `model.QK`).
    public var QK: [[FactoredMatrix]] {
        get throws { try (0..<config.nLayers).map { l in let b = try block(l); return (0..<config.nHeads).map { qk(b, $0) } } }
    }

    /// Head `h`'s OV circuit from its layer's weights `b`.
    func ov(_ b: BlockWeights, _ h: Int) -> FactoredMatrix {
        FactoredMatrix(checked: b.W_V.slice0(circuitKVHead(h)), b.W_O.slice0(h))  // [d_model, d_head], [d_head, d_model]
    }

    /// Head `h`'s QK circuit from its layer's weights `b`.
    func qk(_ b: BlockWeights, _ h: Int) -> FactoredMatrix {
        FactoredMatrix(checked: b.W_Q.slice0(h), b.W_K.slice0(circuitKVHead(h)).permuted([1, 0]))  // [d_model, d_head], [d_head, d_model]
    }

    /// `all_composition_scores(mode)`: `[layer₁, head₁, layer₂, head₂]`, the composition of the
    /// earlier head's OV output into the later head's query (`Q`: with `QK`), key (`K`: with `QKᵀ`)
    /// or value (`V`: with `OV`) — `‖OV₁ · M₂‖_F / (‖OV₁‖_F ‖M₂‖_F)` — zero unless `layer₁ < layer₂`.
    ///
    /// TransformerLens computes the norms through SVDs of the collapsed factors; the same numbers come
    /// here from `d_head × d_head` Gram matrices (`‖A₁B₁A₂B₂‖² = tr(A₁ᵀA₁ · B₁A₂ · B₂B₂ᵀ · (B₁A₂)ᵀ)`),
    /// in double precision, without any `d_model × d_model` product.
    public func allCompositionScores(_ mode: CompositionMode) throws -> Tensor {
        let (L, H, E) = (config.nLayers, config.nHeads, config.dHead)
        // Per head: the left factors (OV) and the right factors (mode's circuit) as Double matrices.
        struct Side { var a: [Double]; var b: [Double]; var gramA: [Double]; var gramB: [Double]; var normSq: Double }
        func side(_ m: FactoredMatrix) -> Side {
            let a = m.A.data.map(Double.init), b = m.B.data.map(Double.init)
            let (l, k, r) = (m.ldim, m.mdim, m.rdim)
            let gramA = HeadLinearAlgebra.matmul(HeadLinearAlgebra.transpose(a, rows: l, cols: k), a, m: k, k: l, n: k)  // AᵀA [k, k]
            let gramB = HeadLinearAlgebra.matmul(b, HeadLinearAlgebra.transpose(b, rows: k, cols: r), m: k, k: r, n: k)  // BBᵀ [k, k]
            return Side(a: a, b: b, gramA: gramA, gramB: gramB, normSq: Self.trace(gramA, gramB, k))
        }
        var left: [[Side]] = [], right: [[Side]] = []
        for l in 0..<L {
            let b = try block(l)   // once per layer (a streamed model reads it from the checkpoint)
            left.append((0..<H).map { side(ov(b, $0)) })
            right.append((0..<H).map { h -> Side in
                switch mode {
                case .Q: return side(qk(b, h))
                case .K: return side(qk(b, h).T)
                case .V: return side(ov(b, h))
                }
            })
        }
        var out = Tensor(zeros: [L, H, L, H])
        let D = config.dModel
        for l1 in 0..<L {
            for h1 in 0..<H {
                let x = left[l1][h1]
                for l2 in (l1 + 1)..<max(l1 + 1, L) {
                    for h2 in 0..<H {
                        let y = right[l2][h2]
                        let c = HeadLinearAlgebra.matmul(x.b, y.a, m: E, k: D, n: E)          // B₁A₂ [E, E]
                        let cg = HeadLinearAlgebra.matmul(c, y.gramB, m: E, k: E, n: E)       // B₁A₂ · B₂B₂ᵀ
                        let inner = HeadLinearAlgebra.matmul(cg, HeadLinearAlgebra.transpose(c, rows: E, cols: E), m: E, k: E, n: E)
                        let comp = Self.trace(x.gramA, inner, E)
                        let score = (max(comp, 0) / (x.normSq * y.normSq)).squareRoot()
                        out[l1, h1, l2, h2] = Float(score)
                    }
                }
            }
        }
        return out
    }

    /// `tr(X · Y)` for `k × k` row-major matrices.
    static func trace(_ x: [Double], _ y: [Double], _ k: Int) -> Double {
        var t = 0.0
        for i in 0..<k { for j in 0..<k { t += x[i * k + j] * y[j * k + i] } }
        return t
    }
}
