import MechanicTensor

/// The weight processing `HookedTransformer.from_pretrained` applies by default, each step
/// switchable; `.none` is `from_pretrained_no_processing`.
public struct WeightProcessing: Sendable, Equatable, Codable {
    public var foldLN: Bool
    public var centerWritingWeights: Bool
    public var centerUnembed: Bool
    public var foldValueBiases: Bool

    public init(foldLN: Bool = true, centerWritingWeights: Bool = true, centerUnembed: Bool = true, foldValueBiases: Bool = true) {
        self.foldLN = foldLN
        self.centerWritingWeights = centerWritingWeights
        self.centerUnembed = centerUnembed
        self.foldValueBiases = foldValueBiases
    }

    public static let `default` = WeightProcessing()
    public static let none = WeightProcessing(foldLN: false, centerWritingWeights: false, centerUnembed: false, foldValueBiases: false)

    /// Applies the enabled steps in TransformerLens's order, updating the config's normalization
    /// (`LN` → `LNPre`, `RMS` → `RMSPre`) when norms are folded.
    public func apply(to w: inout ModelWeights, config c: inout ModelConfig) {
        if foldLN {
            if c.normalization == .layerNorm {
                Self.foldLayerNorm(&w, c, foldBiases: true, centerWeights: true)
                c.normalization = .layerNormPre
            } else if c.normalization == .rmsNorm {
                Self.foldLayerNorm(&w, c, foldBiases: false, centerWeights: false)
                c.normalization = .rmsNormPre
            }
        }
        // TransformerLens centres writing weights only for LayerNorm models (RMSNorm does not
        // remove the mean, so centring would change the model).
        if centerWritingWeights && c.usesLayerNorm { Self.centerWriting(&w, c) }
        if centerUnembed { Self.centerUnembed(&w) }
        if foldValueBiases { Self.foldValueBiases(&w, c) }
    }

    // MARK: - steps (TransformerLens `ProcessWeights`)

    /// Scales the weights that read a normalised vector by the norm's weight, folds its bias into
    /// the reader's bias, and (for LayerNorm) centres the reading weights along d_model.
    static func foldLayerNorm(_ w: inout ModelWeights, _ c: ModelConfig, foldBiases: Bool, centerWeights: Bool) {
        for l in w.blocks.indices {
            var b = w.blocks[l]
            if let g = b.ln1W {
                if foldBiases, let beta = b.ln1B {
                    b.b_Q = foldBias(b.b_Q, headWeights: b.W_Q, beta)
                    b.b_K = foldBias(b.b_K, headWeights: b.W_K, beta)
                    b.b_V = foldBias(b.b_V, headWeights: b.W_V, beta)
                }
                b.W_Q = scaleHeadRows(b.W_Q, g)
                b.W_K = scaleHeadRows(b.W_K, g)
                b.W_V = scaleHeadRows(b.W_V, g)
                if centerWeights {
                    b.W_Q = centerHeadRows(b.W_Q)
                    b.W_K = centerHeadRows(b.W_K)
                    b.W_V = centerHeadRows(b.W_V)
                }
            }
            b.ln1W = nil
            b.ln1B = nil
            if let g = b.ln2W, let W_in = b.W_in {
                if foldBiases, let beta = b.ln2B, let b_in = b.b_in {
                    b.b_in = foldBias(b_in, headWeights: W_in.reshaped([1] + W_in.shape), beta).reshaped(b_in.shape)
                }
                b.W_in = scaleHeadRows(W_in.reshaped([1] + W_in.shape), g).reshaped(W_in.shape)
                if let gate = b.W_gate { b.W_gate = scaleHeadRows(gate.reshaped([1] + gate.shape), g).reshaped(gate.shape) }
                if centerWeights, let W = b.W_in { b.W_in = centerHeadRows(W.reshaped([1] + W.shape)).reshaped(W.shape) }
            }
            b.ln2W = nil
            b.ln2B = nil
            w.blocks[l] = b
        }
        if let g = w.lnFinalW {
            if foldBiases, let beta = w.lnFinalB {
                w.b_U = foldBias(w.b_U, headWeights: w.W_U.reshaped([1] + w.W_U.shape), beta).reshaped(w.b_U.shape)
            }
            w.W_U = scaleHeadRows(w.W_U.reshaped([1] + w.W_U.shape), g).reshaped(w.W_U.shape)
            if centerWeights { w.W_U = centerHeadRows(w.W_U.reshaped([1] + w.W_U.shape)).reshaped(w.W_U.shape) }
        }
        w.lnFinalW = nil
        w.lnFinalB = nil
    }

    /// `b[h, e] + Σ_m W[h, m, e] · beta[m]` for `W [h, d_model, e]`, `b [h, e]`.
    static func foldBias(_ bias: Tensor, headWeights W: Tensor, _ beta: Tensor) -> Tensor {
        let (H, D, E) = (W.shape[0], W.shape[1], W.shape[2])
        var out = bias
        for h in 0..<H {
            for m in 0..<D {
                let bm = beta.data[m]
                let row = (h * D + m) * E
                for e in 0..<E { out.data[h * E + e] += W.data[row + e] * bm }
            }
        }
        return out
    }

    /// `W[h, m, e] · g[m]` for `W [h, d_model, e]`.
    static func scaleHeadRows(_ W: Tensor, _ g: Tensor) -> Tensor {
        let (H, D, E) = (W.shape[0], W.shape[1], W.shape[2])
        var out = W
        for h in 0..<H { for m in 0..<D { for e in 0..<E { out.data[(h * D + m) * E + e] *= g.data[m] } } }
        return out
    }

    /// Subtracts the mean over d_model: `W[h, m, e] - mean_m W[h, m, e]`.
    static func centerHeadRows(_ W: Tensor) -> Tensor {
        let (H, D, E) = (W.shape[0], W.shape[1], W.shape[2])
        var out = W
        for h in 0..<H {
            for e in 0..<E {
                var s: Float = 0
                for m in 0..<D { s += W.data[(h * D + m) * E + e] }
                let mean = s / Float(D)
                for m in 0..<D { out.data[(h * D + m) * E + e] -= mean }
            }
        }
        return out
    }

    /// Subtracts from every row (last axis) its mean: `W[..., m] - mean_m W[..., m]`.
    static func centerLastAxis(_ W: Tensor) -> Tensor {
        let n = W.shape.last ?? 1
        var out = W
        for r in 0..<(W.count / n) {
            var s: Float = 0
            for j in 0..<n { s += W.data[r * n + j] }
            let mean = s / Float(n)
            for j in 0..<n { out.data[r * n + j] -= mean }
        }
        return out
    }

    /// Makes everything written to the residual stream have zero mean over d_model.
    static func centerWriting(_ w: inout ModelWeights, _ c: ModelConfig) {
        w.W_E = centerLastAxis(w.W_E)
        if let p = w.W_pos { w.W_pos = centerLastAxis(p) }
        for l in w.blocks.indices {
            w.blocks[l].W_O = centerLastAxis(w.blocks[l].W_O)
            w.blocks[l].b_O = centerLastAxis(w.blocks[l].b_O)
            if let W = w.blocks[l].W_out { w.blocks[l].W_out = centerLastAxis(W) }
            if let b = w.blocks[l].b_out { w.blocks[l].b_out = centerLastAxis(b) }
        }
    }

    /// Logits are translation invariant: subtract each row's mean over the vocabulary.
    static func centerUnembed(_ w: inout ModelWeights) {
        w.W_U = centerLastAxis(w.W_U)
        w.b_U = centerLastAxis(w.b_U)
    }

    /// Moves the value biases into the output bias (`b_O += Σ_h b_V[h] · W_O[h]`), exact because
    /// attention patterns sum to one; grouped-query models repeat each key/value head's bias.
    static func foldValueBiases(_ w: inout ModelWeights, _ c: ModelConfig) {
        for l in w.blocks.indices {
            var b = w.blocks[l]
            let (H, E, D) = (c.nHeads, c.dHead, c.dModel)
            for h in 0..<H {
                let kv = h / c.groupSize
                for e in 0..<E {
                    let bv = b.b_V.data[kv * E + e]
                    if bv == 0 { continue }
                    for m in 0..<D { b.b_O.data[m] += bv * b.W_O.data[(h * E + e) * D + m] }
                }
            }
            b.b_V = Tensor(zeros: b.b_V.shape)
            w.blocks[l] = b
        }
    }
}
