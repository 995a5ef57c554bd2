import MechanicIO
import MechanicTensor

/// Llama family (`llama`, `mistral`, `qwen2`): RMSNorm, rotary (`rope_theta`, Llama-3
/// `rope_scaling`), SwiGLU, grouped-query attention, Qwen2's q/k/v biases.
/// Conversion as TransformerLens's `convert_llama_weights` / `convert_qwen2_weights`.
enum LlamaArchitecture {
    static let supported: Set<String> = ["llama", "mistral", "qwen2"]

    static func config(_ hf: HFConfig, modelType: String) throws -> ModelConfig {
        let dModel = try hf.positiveInt("hidden_size")
        let nHeads = try hf.positiveInt("num_attention_heads")
        let nKV = try hf.positiveInt("num_key_value_heads", default: nHeads)
        guard nHeads % nKV == 0 else {
            throw MechanicError.badConfig(file: hf.path, reason: "num_attention_heads \(nHeads) is not a multiple of num_key_value_heads \(nKV)")
        }
        guard hf.has("head_dim") || dModel % nHeads == 0 else {
            throw MechanicError.badConfig(file: hf.path, reason: "hidden_size \(dModel) is not divisible by num_attention_heads \(nHeads)")
        }
        let dHead = try hf.positiveInt("head_dim", default: dModel / nHeads)
        let act = try hf.string("hidden_act", default: "silu")
        guard let activation = Activation(huggingFace: act) else {
            throw MechanicError.unsupportedConfig(file: hf.path, key: "hidden_act", value: act, reason: "unknown activation")
        }
        // Options that would make a different model: refuse rather than run something else.
        // Sliding-window attention equals full attention until a sequence outgrows the window;
        // the forward refuses longer inputs instead of silently attending further.
        var window: Int?
        let qwenWithoutWindow = try modelType == "qwen2" && !hf.bool("use_sliding_window", default: false)
        if hf.has("sliding_window"), !qwenWithoutWindow {
            window = try hf.positiveInt("sliding_window")
        }
        try hf.reject("num_local_experts", unless: { _ in false }, reason: "mixture-of-experts models are not supported")
        try hf.reject("alibi", unless: { ($0 as? Bool) == false }, reason: "ALiBi is not supported")
        try hf.reject("attention_bias", unless: { ($0 as? Bool) == false }, reason: "attention biases are only supported for qwen2")
        try hf.reject("mlp_bias", unless: { ($0 as? Bool) == false }, reason: "MLP biases are not supported")
        try hf.reject("pretraining_tp", unless: { ($0 as? Double) == 1 }, reason: "tensor-parallel slicing of the forward is not supported")
        var scaling: ModelConfig.RopeScaling?
        if hf.has("rope_scaling") {
            guard let rs = hf.dictionary("rope_scaling") else { throw hf.bad("rope_scaling", "an object such as {\"rope_type\": \"llama3\", …} or null") }
            let type = (rs["rope_type"] as? String) ?? (rs["type"] as? String) ?? "?"
            guard type == "llama3" else {
                throw MechanicError.unsupportedConfig(file: hf.path, key: "rope_scaling", value: type, reason: "only rope_type \"llama3\" is supported")
            }
            func num(_ k: String) throws -> Double {
                guard let raw = rs[k], !(raw is HFConfig.Null) else { throw MechanicError.missingConfigKey(file: hf.path, key: "rope_scaling.\(k)") }
                guard let v = raw as? Double, v.isFinite, v > 0 else {
                    throw MechanicError.badConfig(file: hf.path, reason: "rope_scaling.\(k) must be a finite number > 0, found \(HFConfig.describe(raw))")
                }
                return v
            }
            scaling = .init(factor: try num("factor"), lowFreqFactor: try num("low_freq_factor"),
                            highFreqFactor: try num("high_freq_factor"),
                            originalMaxPositionEmbeddings: try num("original_max_position_embeddings"))
            if let s = scaling, s.lowFreqFactor == s.highFreqFactor {  // the smoothing divides by their difference
                throw MechanicError.badConfig(file: hf.path, reason: "rope_scaling.low_freq_factor and high_freq_factor must differ, both are \(s.lowFreqFactor)")
            }
        }
        let config = ModelConfig(
            modelType: modelType, dModel: dModel, nLayers: try hf.positiveInt("num_hidden_layers"), nHeads: nHeads,
            dHead: dHead, nKeyValueHeads: nKV, dMLP: try hf.positiveInt("intermediate_size"), dVocab: try hf.positiveInt("vocab_size"),
            nCtx: try hf.positiveInt("max_position_embeddings"), actFn: activation.rawValue, normalization: .rmsNorm,
            eps: Float(try hf.nonNegativeDouble("rms_norm_eps", default: 1e-6)), positionalEmbedding: .rotary, rotaryDim: dHead,
            rotaryBase: try hf.positiveDouble("rope_theta", default: 10000), ropeScaling: scaling, gatedMLP: true,
            defaultPrependBOS: modelType != "qwen2",  // as TransformerLens
            tiedEmbeddings: try hf.bool("tie_word_embeddings", default: false), slidingWindow: window)
        try config.validate(file: hf.path, keys: .init(dModel: "hidden_size", nLayers: "num_hidden_layers", nHeads: "num_attention_heads",
                                                       nKeyValueHeads: "num_key_value_heads", dHead: "head_dim", dMLP: "intermediate_size",
                                                       dVocab: "vocab_size", nCtx: "max_position_embeddings", rotary: "head_dim"))
        return config
    }

    static let ignoredBuffers = [".rotary_emb.inv_freq"]

    static func reader(_ checkpoint: Checkpoint) -> WeightReader { WeightReader(checkpoint) }

    static func block(_ r: inout WeightReader, _ l: Int, _ c: ModelConfig) throws -> BlockWeights {
        let (D, H, K, dh, M) = (c.dModel, c.nHeads, c.nKeyValueHeads, c.dHead, c.dMLP)
            let p = "model.layers.\(l)."
            // proj.weight [(n h), m] -> [n, m, h]
            func w(_ name: String, _ n: Int) throws -> Tensor {
                let t = try r.read(p + "self_attn.\(name).weight", shape: [n * dh, D])
                return Layout.heads(t, n: n, inDim: D, dHead: dh) { i, e, m in (i * dh + e) * D + m }
            }
            func b(_ name: String, _ n: Int) throws -> Tensor {
                try r.readIfPresent(p + "self_attn.\(name).bias", shape: [n * dh])?.reshaped([n, dh]) ?? Layout.zeros([n, dh])
            }
            let o = try r.read(p + "self_attn.o_proj.weight", shape: [D, H * dh])  // [m, (n h)]
            return BlockWeights(
                ln1W: try r.read(p + "input_layernorm.weight", shape: [D]), ln1B: nil,
                W_Q: try w("q_proj", H), W_K: try w("k_proj", K), W_V: try w("v_proj", K),
                b_Q: try b("q_proj", H), b_K: try b("k_proj", K), b_V: try b("v_proj", K),
                W_O: Layout.transpose(o).reshaped([H, dh, D]), b_O: Layout.zeros([D]),  // -> [n, h, m]
                ln2W: try r.read(p + "post_attention_layernorm.weight", shape: [D]), ln2B: nil,
                W_in: Layout.transpose(try r.read(p + "mlp.up_proj.weight", shape: [M, D])),      // -> [d_model, d_mlp]
                W_gate: Layout.transpose(try r.read(p + "mlp.gate_proj.weight", shape: [M, D])),  // -> [d_model, d_mlp]
                b_in: Layout.zeros([M]),
                W_out: Layout.transpose(try r.read(p + "mlp.down_proj.weight", shape: [D, M])),   // -> [d_mlp, d_model]
                b_out: Layout.zeros([D]))
    }

    static func globals(_ r: inout WeightReader, _ c: ModelConfig) throws -> ModelWeights {
        let D = c.dModel
        let W_E = try r.read("model.embed_tokens.weight", shape: [c.dVocab, D])
        let lnW = try r.read("model.norm.weight", shape: [D])
        let unembed = try r.readIfPresent("lm_head.weight", shape: [c.dVocab, D]) ?? W_E
        return ModelWeights(W_E: W_E, W_pos: nil, blocks: [], lnFinalW: lnW, lnFinalB: nil,
                            W_U: Layout.transpose(unembed), b_U: Layout.zeros([c.dVocab]))  // -> [d_model, d_vocab]
    }
}
