import MechanicIO
import MechanicTensor

/// GPT-NeoX / Pythia (`model_type: gpt_neox`): partial rotary (half-split pairs), fused
/// `query_key_value` with rows interleaved per head as (head, q/k/v, d_head), parallel
/// attention + MLP when `use_parallel_residual`, untied `embed_out`.
/// Conversion as TransformerLens's `convert_neox_weights`.
enum GPTNeoXArchitecture {
    static func config(_ hf: HFConfig) throws -> ModelConfig {
        let dModel = try hf.positiveInt("hidden_size")
        let nHeads = try hf.positiveInt("num_attention_heads")
        guard dModel % nHeads == 0 else {
            throw MechanicError.badConfig(file: hf.path, reason: "hidden_size \(dModel) is not divisible by num_attention_heads \(nHeads)")
        }
        let dHead = dModel / nHeads
        let act = try hf.string("hidden_act", default: "gelu")
        guard let activation = Activation(huggingFace: act) else {
            throw MechanicError.unsupportedConfig(file: hf.path, key: "hidden_act", value: act, reason: "unknown activation")
        }
        try hf.reject("rope_scaling", unless: { $0 is HFConfig.Null }, reason: "rotary scaling is not supported for gpt_neox")
        try hf.reject("attention_bias", unless: { ($0 as? Bool) != false }, reason: "attention without biases is not supported for gpt_neox")
        // The fraction of each head that is rotated, in [0, 1] as Hugging Face allows; 0 means no
        // rotary at all (positions then reach attention only through causality).
        let pctKey = hf.has("rotary_pct") || !hf.has("partial_rotary_factor") ? "rotary_pct" : "partial_rotary_factor"
        let rotaryPct = try hf.double(pctKey, default: 1)
        guard rotaryPct.isFinite, rotaryPct >= 0, rotaryPct <= 1 else { throw hf.bad(pctKey, "a number in [0, 1]") }
        let rotaryDim = Int((rotaryPct * Double(dHead)).rounded())  // as TransformerLens: round(rotary_pct · d_head)
        guard rotaryDim % 2 == 0 else {
            throw MechanicError.badConfig(file: hf.path, reason: "\(pctKey) \(rotaryPct) gives \(rotaryDim) rotary dimensions per head (of \(dHead)), which must be even")
        }
        let baseKey = hf.has("rotary_emb_base") ? "rotary_emb_base" : "rope_theta"
        let config = ModelConfig(
            modelType: "gpt_neox", dModel: dModel, nLayers: try hf.positiveInt("num_hidden_layers"), nHeads: nHeads,
            dHead: dHead, dMLP: try hf.positiveInt("intermediate_size"), dVocab: try hf.positiveInt("vocab_size"),
            nCtx: try hf.positiveInt("max_position_embeddings"), actFn: activation.rawValue, normalization: .layerNorm,
            eps: Float(try hf.nonNegativeDouble("layer_norm_eps", default: 1e-5)), positionalEmbedding: .rotary,
            rotaryDim: rotaryDim, rotaryBase: try hf.positiveDouble(baseKey, default: 10000),
            parallelAttnMLP: try hf.bool("use_parallel_residual", default: true),
            tiedEmbeddings: try hf.bool("tie_word_embeddings", default: false))
        try config.validate(file: hf.path, keys: .init(dModel: "hidden_size", nLayers: "num_hidden_layers", nHeads: "num_attention_heads",
                                                       nKeyValueHeads: "num_attention_heads", dHead: "hidden_size / num_attention_heads",
                                                       dMLP: "intermediate_size", dVocab: "vocab_size", nCtx: "max_position_embeddings",
                                                       rotary: pctKey))
        return config
    }

    static let ignoredBuffers = [".attention.bias", ".attention.masked_bias", ".rotary_emb.inv_freq"]

    static func reader(_ checkpoint: Checkpoint) -> WeightReader { WeightReader(checkpoint) }

    static func block(_ r: inout WeightReader, _ l: Int, _ c: ModelConfig) throws -> BlockWeights {
        let (D, H, dh, M) = (c.dModel, c.nHeads, c.dHead, c.dMLP)
            let p = "gpt_neox.layers.\(l)."
            let qkv = try r.read(p + "attention.query_key_value.weight", shape: [3 * D, D])  // [(i qkv h), m]
            let qkvB = try r.read(p + "attention.query_key_value.bias", shape: [3 * D])       // [(i qkv h)]
            func w(_ which: Int) -> Tensor {
                Layout.heads(qkv, n: H, inDim: D, dHead: dh) { i, e, m in ((i * 3 + which) * dh + e) * D + m }
            }
            func b(_ which: Int) -> Tensor {
                Tensor(shape: [H, dh]) { out in
                    for i in 0..<H { for e in 0..<dh { out[i * dh + e] = qkvB.data[(i * 3 + which) * dh + e] } }
                }
            }
            let dense = try r.read(p + "attention.dense.weight", shape: [D, D])  // [m, (i h)]
            return BlockWeights(
                ln1W: try r.read(p + "input_layernorm.weight", shape: [D]), ln1B: try r.read(p + "input_layernorm.bias", shape: [D]),
                W_Q: w(0), W_K: w(1), W_V: w(2), b_Q: b(0), b_K: b(1), b_V: b(2),
                W_O: Layout.transpose(dense).reshaped([H, dh, D]),  // [m, (i h)] -> [(i h), m] -> [i, h, m]
                b_O: try r.read(p + "attention.dense.bias", shape: [D]),
                ln2W: try r.read(p + "post_attention_layernorm.weight", shape: [D]),
                ln2B: try r.read(p + "post_attention_layernorm.bias", shape: [D]),
                W_in: Layout.transpose(try r.read(p + "mlp.dense_h_to_4h.weight", shape: [M, D])), W_gate: nil,  // -> [d_model, d_mlp]
                b_in: try r.read(p + "mlp.dense_h_to_4h.bias", shape: [M]),
                W_out: Layout.transpose(try r.read(p + "mlp.dense_4h_to_h.weight", shape: [D, M])),  // -> [d_mlp, d_model]
                b_out: try r.read(p + "mlp.dense_4h_to_h.bias", shape: [D]))
    }

    static func globals(_ r: inout WeightReader, _ c: ModelConfig) throws -> ModelWeights {
        let D = c.dModel
        let W_E = try r.read("gpt_neox.embed_in.weight", shape: [c.dVocab, D])
        let lnW = try r.read("gpt_neox.final_layer_norm.weight", shape: [D])
        let lnB = try r.read("gpt_neox.final_layer_norm.bias", shape: [D])
        let unembed = try r.readIfPresent("embed_out.weight", shape: [c.dVocab, D]) ?? W_E
        return ModelWeights(W_E: W_E, W_pos: nil, blocks: [], lnFinalW: lnW, lnFinalB: lnB,
                            W_U: Layout.transpose(unembed), b_U: Layout.zeros([c.dVocab]))  // -> [d_model, d_vocab]
    }
}
