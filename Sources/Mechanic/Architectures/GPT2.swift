import MechanicIO
import MechanicTensor

/// GPT-2 (`model_type: gpt2`): learned positions, LayerNorm, fused Conv1D `c_attn`, GELU MLP,
/// unembedding tied to the embedding. Conversion as TransformerLens's `convert_gpt2_weights`.
enum GPT2Architecture {
    static func config(_ hf: HFConfig) throws -> ModelConfig {
        let dModel = try hf.positiveInt("n_embd")
        let nHeads = try hf.positiveInt("n_head")
        guard dModel % nHeads == 0 else {
            throw MechanicError.badConfig(file: hf.path, reason: "n_embd \(dModel) is not divisible by n_head \(nHeads)")
        }
        let act = try hf.string("activation_function", default: "gelu_new")
        guard Activation(huggingFace: act) != nil else {
            throw MechanicError.unsupportedConfig(file: hf.path, key: "activation_function", value: act, reason: "unknown activation")
        }
        try hf.reject("add_cross_attention", unless: { ($0 as? Bool) == false }, reason: "cross-attention is not supported")
        try hf.reject("reorder_and_upcast_attn", unless: { _ in true }, reason: "")
        let (fourD, overflow) = dModel.multipliedReportingOverflow(by: 4)  // n_inner's default
        guard !overflow else { throw hf.bad("n_embd", "a plausible width") }
        let config = ModelConfig(
            modelType: "gpt2", dModel: dModel, nLayers: try hf.positiveInt("n_layer"), nHeads: nHeads,
            dHead: dModel / nHeads, dMLP: try hf.positiveInt("n_inner", default: fourD), dVocab: try hf.positiveInt("vocab_size"),
            nCtx: try hf.positiveInt(anyOf: ["n_positions", "n_ctx"]), actFn: Activation(huggingFace: act)?.rawValue ?? act,
            normalization: .layerNorm, eps: Float(try hf.nonNegativeDouble("layer_norm_epsilon", default: 1e-5)),
            positionalEmbedding: .standard,
            scaleAttnByInverseLayerIdx: try hf.bool("scale_attn_by_inverse_layer_idx", default: false),
            tiedEmbeddings: try hf.bool("tie_word_embeddings", default: true))
        try config.validate(file: hf.path, keys: .init(dModel: "n_embd", nLayers: "n_layer", nHeads: "n_head", nKeyValueHeads: "n_head",
                                                       dHead: "n_embd / n_head", dMLP: "n_inner", dVocab: "vocab_size",
                                                       nCtx: hf.has("n_positions") ? "n_positions" : "n_ctx"))
        return config
    }

    static let ignoredBuffers = [".attn.bias", ".attn.masked_bias"]

    static func reader(_ checkpoint: Checkpoint) -> WeightReader {
        var r = WeightReader(checkpoint)
        if !checkpoint.contains("wte.weight") { r.prefix = "transformer." }
        return r
    }

    static func block(_ r: inout WeightReader, _ l: Int, _ c: ModelConfig) throws -> BlockWeights {
        let (D, H, dh, M) = (c.dModel, c.nHeads, c.dHead, c.dMLP)
            let p = "h.\(l)."
            let cAttn = try r.read(p + "attn.c_attn.weight", shape: [D, 3 * D])  // [d_model, (qkv i h)]
            let cAttnB = try r.read(p + "attn.c_attn.bias", shape: [3 * D])
            // W[m, qkv*D + i*dh + e] -> W_X[i, m, e]
            func w(_ which: Int) -> Tensor {
                Layout.heads(cAttn, n: H, inDim: D, dHead: dh) { i, e, m in m * 3 * D + which * D + i * dh + e }
            }
            func b(_ which: Int) -> Tensor {
                Tensor(shape: [H, dh], data: Array(cAttnB.data[(which * D)..<((which + 1) * D)]))  // [(i h)] -> [i, h]
            }
            let cProj = try r.read(p + "attn.c_proj.weight", shape: [D, D])  // [(i h), d_model]
            return BlockWeights(
                ln1W: try r.read(p + "ln_1.weight", shape: [D]), ln1B: try r.read(p + "ln_1.bias", shape: [D]),
                W_Q: w(0), W_K: w(1), W_V: w(2), b_Q: b(0), b_K: b(1), b_V: b(2),
                W_O: cProj.reshaped([H, dh, D]),  // [(i h), m] -> [i, h, m]
                b_O: try r.read(p + "attn.c_proj.bias", shape: [D]),
                ln2W: try r.read(p + "ln_2.weight", shape: [D]), ln2B: try r.read(p + "ln_2.bias", shape: [D]),
                W_in: try r.read(p + "mlp.c_fc.weight", shape: [D, M]), W_gate: nil,
                b_in: try r.read(p + "mlp.c_fc.bias", shape: [M]),
                W_out: try r.read(p + "mlp.c_proj.weight", shape: [M, D]),
                b_out: try r.read(p + "mlp.c_proj.bias", shape: [D]))
    }

    static func globals(_ r: inout WeightReader, _ c: ModelConfig) throws -> ModelWeights {
        let D = c.dModel
        let W_E = try r.read("wte.weight", shape: [c.dVocab, D])
        let W_pos = try r.read("wpe.weight", shape: [c.nCtx, D])
        let lnW = try r.read("ln_f.weight", shape: [D])
        let lnB = try r.read("ln_f.bias", shape: [D])
        let W_U: Tensor
        if let lm = try r.readIfPresent("lm_head.weight", shape: [c.dVocab, D]), !c.tiedEmbeddings || lm != W_E {
            W_U = Layout.transpose(lm)  // [d_vocab, d_model] -> [d_model, d_vocab]
        } else {
            W_U = Layout.transpose(W_E)
        }
        return ModelWeights(W_E: W_E, W_pos: W_pos, blocks: [], lnFinalW: lnW, lnFinalB: lnB,
                            W_U: W_U, b_U: Layout.zeros([c.dVocab]))
    }
}
