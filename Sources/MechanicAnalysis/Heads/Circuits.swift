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

    func headsCheck(_ layer: Int, _ head: Int) throws {
        guard (0..<config.nLayers).contains(layer), (0..<config.nHeads).contains(head) else {
            throw MechanicError.invalidArgument("head L\(layer)H\(head) does not exist (the model has \(config.nLayers) layers × \(config.nHeads) heads)")
        }
    }

    /// The OV circuit of one head, `W_V[h] · W_O[h]` (`[d_model, d_head] · [d_head, d_model]`).
    public func OV(layer: Int, head: Int) throws -> FactoredMatrix {
        try headsCheck(layer, head)
        return ovUnchecked(layer, head)
    }

    /// The QK circuit of one head, `W_Q[h] · W_K[h]ᵀ` (`[d_model, d_head] · [d_head, d_model]`):
    /// `resid_q · QK · resid_kᵀ` is the attention score before scaling (biases and rotary excluded).
    public func QK(layer: Int, head: Int) throws -> FactoredMatrix {
        try headsCheck(layer, head)
        return qkUnchecked(layer, head)
    }

    /// Every head's OV circuit, `[layer][head]` (TransformerLens's `model.OV`).
    public var OV: [[FactoredMatrix]] {
        (0..<config.nLayers).map { l in (0..<config.nHeads).map { ovUnchecked(l, $0) } }
    }

    /// Every head's QK circuit, `[layer][head]` (TransformerLens's `model.QK`).
    public var QK: [[FactoredMatrix]] {
        (0..<config.nLayers).map { l in (0..<config.nHeads).map { qkUnchecked(l, $0) } }
    }

    func ovUnchecked(_ l: Int, _ h: Int) -> FactoredMatrix {
        let b = weights.blocks[l]
        return FactoredMatrix(checked: b.W_V.slice0(circuitKVHead(h)), b.W_O.slice0(h))  // [d_model, d_head], [d_head, d_model]
    }

    func qkUnchecked(_ l: Int, _ h: Int) -> FactoredMatrix {
        let b = weights.blocks[l]
        return FactoredMatrix(checked: b.W_Q.slice0(h), b.W_K.slice0(circuitKVHead(h)).permuted([1, 0]))  // [d_model, d_head], [d_head, d_model]
    }

    /// `all_composition_scores(mode)`: `[layer₁, head₁, layer₂, head₂]`, the composition of the
    /// earlier head's OV output into the later head's query (`Q`: with `QK`), key (`K`: with `QKᵀ`)
    /// or value (`V`: with `OV`) — `‖OV₁ · M₂‖_F / (‖OV₁‖_F ‖M₂‖_F)` — zero unless `layer₁ < layer₂`.
    ///
    /// TransformerLens computes the norms through SVDs of the collapsed factors; the same numbers come
    /// here from `d_head × d_head` Gram matrices (`‖A₁B₁A₂B₂‖² = tr(A₁ᵀA₁ · B₁A₂ · B₂B₂ᵀ · (B₁A₂)ᵀ)`),
    /// in double precision, without any `d_model × d_model` product.
    public func allCompositionScores(_ mode: CompositionMode) -> Tensor {
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
        let left = (0..<L).map { l in (0..<H).map { side(ovUnchecked(l, $0)) } }
        let right = (0..<L).map { l in
            (0..<H).map { h -> Side in
                switch mode {
                case .Q: return side(qkUnchecked(l, h))
                case .K: return side(qkUnchecked(l, h).T)
                case .V: return side(ovUnchecked(l, h))
                }
            }
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
