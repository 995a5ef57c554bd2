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
        for l in w.blocks.indices { processBlock(&w.blocks[l], config: c) }
        processGlobals(&w, config: c)
        c = processedConfig(c)
    }

    /// The config after processing: folded norms lose their weights.
    public func processedConfig(_ c: ModelConfig) -> ModelConfig {
        var out = c
        if foldLN {
            if c.normalization == .layerNorm { out.normalization = .layerNormPre }
            if c.normalization == .rmsNorm { out.normalization = .rmsNormPre }
        }
        return out
    }

    /// Every step is local to a block or to the embedding/unembedding, so a large model can be
    /// processed block by block as it is read. `c` is the config before processing.
    func processBlock(_ b: inout BlockWeights, config c: ModelConfig) {
        if foldLN && c.normHasWeights {
            Self.foldBlockNorms(&b, foldBiases: c.usesLayerNorm, centerWeights: c.usesLayerNorm)
        }
        // TransformerLens centres writing weights only for LayerNorm models (RMSNorm does not
        // remove the mean, so centring would change the model).
        if centerWritingWeights && c.usesLayerNorm {
            b.W_O = Self.centerLastAxis(b.W_O)
            b.b_O = Self.centerLastAxis(b.b_O)
            if let W = b.W_out { b.W_out = Self.centerLastAxis(W) }
            if let bo = b.b_out { b.b_out = Self.centerLastAxis(bo) }
        }
        if foldValueBiases { Self.foldValueBiases(&b, c) }
    }

    /// Embedding, positions, final norm and unembedding.
    func processGlobals(_ w: inout ModelWeights, config c: ModelConfig) {
        if foldLN && c.normHasWeights, let g = w.lnFinalW {
            let beta = c.usesLayerNorm ? w.lnFinalB : nil
            (w.W_U, w.b_U) = Self.foldReader(w.W_U, w.b_U, g: g, beta: beta, center: c.usesLayerNorm)
            w.lnFinalW = nil
            w.lnFinalB = nil
        }
        if centerWritingWeights && c.usesLayerNorm {
            w.W_E = Self.centerLastAxis(w.W_E)
            if let p = w.W_pos { w.W_pos = Self.centerLastAxis(p) }
        }
        if centerUnembed {
            w.W_U = Self.centerLastAxis(w.W_U)
            w.b_U = Self.centerLastAxis(w.b_U)
        }
    }

    // MARK: - steps (TransformerLens `ProcessWeights`)

    /// Scales the weights that read a normalised vector by the norm's weight, folds its bias into
    /// the reader's bias, and (for LayerNorm) centres the reading weights along d_model.
    static func foldBlockNorms(_ b: inout BlockWeights, foldBiases: Bool, centerWeights: Bool) {
        if let g = b.ln1W {
            // W_Q/W_K/W_V are views of the fused weights: each is read once and written once.
            var (W_Q, W_K, W_V) = (b.W_Q, b.W_K, b.W_V)
            if foldBiases, let beta = b.ln1B {
                b.b_Q = foldBias(b.b_Q, headWeights: W_Q, beta)
                b.b_K = foldBias(b.b_K, headWeights: W_K, beta)
                b.b_V = foldBias(b.b_V, headWeights: W_V, beta)
            }
            W_Q = scaleHeadRows(W_Q, g)
            W_K = scaleHeadRows(W_K, g)
            W_V = scaleHeadRows(W_V, g)
            if centerWeights {
                W_Q = centerHeadRows(W_Q)
                W_K = centerHeadRows(W_K)
                W_V = centerHeadRows(W_V)
            }
            (b.W_Q, b.W_K, b.W_V) = (W_Q, W_K, W_V)
        }
        b.ln1W = nil
        b.ln1B = nil
        if let g = b.ln2W, let W_in = b.W_in, let b_in = b.b_in {
            (b.W_in, b.b_in) = foldReader(W_in, b_in, g: g, beta: foldBiases ? b.ln2B : nil, center: centerWeights)
            if let gate = b.W_gate { b.W_gate = scaleHeadRows(gate.reshaped([1] + gate.shape), g).reshaped(gate.shape) }
        }
        b.ln2W = nil
        b.ln2B = nil
    }

    /// Folds a norm into a reading matrix `W [d_model, n]` and its bias `[n]`.
    static func foldReader(_ W: Tensor, _ bias: Tensor, g: Tensor, beta: Tensor?, center: Bool) -> (Tensor, Tensor) {
        let W3 = W.reshaped([1] + W.shape)  // [d_model, n] -> [1, d_model, n]
        var b = bias
        if let beta { b = foldBias(bias.reshaped([1, bias.count]), headWeights: W3, beta).reshaped(bias.shape) }
        var out = scaleHeadRows(W3, g)
        if center { out = centerHeadRows(out) }
        return (out.reshaped(W.shape), b)
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
        out.data.withUnsafeMutableBufferPointer { o in
            var mean = [Float](repeating: 0, count: E)
            for h in 0..<H {
                for e in 0..<E { mean[e] = 0 }
                for m in 0..<D { for e in 0..<E { mean[e] += o[(h * D + m) * E + e] } }  // row-major sweep
                for e in 0..<E { mean[e] /= Float(D) }
                for m in 0..<D { for e in 0..<E { o[(h * D + m) * E + e] -= mean[e] } }
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

    /// Moves the value biases into the output bias (`b_O += Σ_h b_V[h] · W_O[h]`), exact because
    /// attention patterns sum to one; grouped-query models repeat each key/value head's bias.
    static func foldValueBiases(_ b: inout BlockWeights, _ c: ModelConfig) {
            let (H, E, D) = (c.nHeads, c.dHead, c.dModel)
            let b_V = b.b_V   // derived from the fused biases: read once
            for h in 0..<H {
                let kv = h / c.groupSize
                for e in 0..<E {
                    let bv = b_V.data[kv * E + e]
                    if bv == 0 { continue }
                    for m in 0..<D { b.b_O.data[m] += bv * b.W_O.data[(h * E + e) * D + m] }
                }
            }
            b.b_V = Tensor(zeros: b_V.shape)
    }
}
