import Foundation
import MechanicIO
import MechanicTensor
import MechanicTokenizers

/// A transformer language model with every internal activation exposed under TransformerLens's
/// hook names. Weights live in TransformerLens's layout (`weights`); the forward pass also keeps
/// a fused QKV matrix per block derived from them.
public final class HookedTransformer: @unchecked Sendable {
    public let config: ModelConfig
    public let weights: ModelWeights
    public let tokenizer: Tokenizer?
    /// The processing applied to `weights` (`.none` for `from_pretrained_no_processing`).
    public let processing: WeightProcessing
    /// Where the model came from (a directory), for messages.
    public let source: String

    let blockNames: [BlockHookNames]
    let fused: [FusedAttention]
    let rotary: RotaryTables?

    /// The query/key/value weights of one block side by side: `x @ wQKV` gives q | k | v.
    struct FusedAttention {
        let wQKV: [Float]  // [d_model, (n_heads + 2·n_kv_heads)·d_head]
        let bQKV: [Float]  // [(n_heads + 2·n_kv_heads)·d_head]
        let width: Int
    }

    /// Builds a model from weights in TransformerLens's layout (already processed as `processing` says).
    public init(config: ModelConfig, weights: ModelWeights, tokenizer: Tokenizer? = nil,
                processing: WeightProcessing = .none, source: String = "<memory>") throws {
        try Self.validate(weights, config)
        self.config = config
        self.weights = weights
        self.tokenizer = tokenizer
        self.processing = processing
        self.source = source
        blockNames = (0..<config.nLayers).map(BlockHookNames.init)
        rotary = config.positionalEmbedding == .rotary ? RotaryTables(config) : nil
        fused = weights.blocks.map { Self.fuse($0, config) }
    }

    /// Loads a Hugging Face model directory (config.json, safetensors weights, tokenizer files)
    /// and processes the weights as `from_pretrained` does unless told otherwise.
    public static func load(_ directory: URL, processing: WeightProcessing = .default) throws -> HookedTransformer {
        let hf = try HFConfig(url: directory.appendingPathComponent("config.json"))
        var config = try architectureConfig(hf)
        let checkpoint = try Checkpoint(directory: directory)
        var weights: ModelWeights
        switch config.modelType {
        case "gpt2": weights = try GPT2Architecture.weights(checkpoint, config)
        case "gpt_neox": weights = try GPTNeoXArchitecture.weights(checkpoint, config)
        default: weights = try LlamaArchitecture.weights(checkpoint, config)
        }
        processing.apply(to: &weights, config: &config)
        let tokenizer = try loadTokenizer(directory)
        return try HookedTransformer(config: config, weights: weights, tokenizer: tokenizer,
                                     processing: processing, source: directory.path)
    }

    /// The architecture described by a `config.json`, or an error naming the unsupported type or key.
    public static func architectureConfig(_ hf: HFConfig) throws -> ModelConfig {
        let type = try hf.string("model_type")
        switch type {
        case "gpt2": return try GPT2Architecture.config(hf)
        case "gpt_neox": return try GPTNeoXArchitecture.config(hf)
        case _ where LlamaArchitecture.supported.contains(type): return try LlamaArchitecture.config(hf, modelType: type)
        default: throw MechanicError.unsupportedModelType(file: hf.path, modelType: type)
        }
    }

    /// The tokenizer in `directory`, or nil when it holds no tokenizer files.
    public static func loadTokenizer(_ directory: URL) throws -> Tokenizer? {
        let fm = FileManager.default
        let has = { fm.fileExists(atPath: directory.appendingPathComponent($0).path) }
        guard has("tokenizer.json") || (has("vocab.json") && has("merges.txt")) else { return nil }
        return try Tokenizer.load(directory: directory)
    }

    private static func fuse(_ b: BlockWeights, _ c: ModelConfig) -> FusedAttention {
        let (D, H, K, E) = (c.dModel, c.nHeads, c.nKeyValueHeads, c.dHead)
        let width = (H + 2 * K) * E
        var w = [Float](repeating: 0, count: D * width)
        var bias = [Float](repeating: 0, count: width)
        var col = 0
        for (W, bb, n) in [(b.W_Q, b.b_Q, H), (b.W_K, b.b_K, K), (b.W_V, b.b_V, K)] {
            for h in 0..<n {
                for m in 0..<D {
                    for e in 0..<E { w[m * width + col + h * E + e] = W.data[(h * D + m) * E + e] }  // [h, m, e] -> [m, (h e)]
                }
                for e in 0..<E { bias[col + h * E + e] = bb.data[h * E + e] }
            }
            col += n * E
        }
        return FusedAttention(wQKV: w, bQKV: bias, width: width)
    }

    private static func validate(_ w: ModelWeights, _ c: ModelConfig) throws {
        func check(_ t: Tensor?, _ name: String, _ shape: [Int]) throws {
            guard let t else { return }
            guard t.shape == shape else {
                throw SafeTensorsError.wrongShape(file: "<weights>", tensor: name, expected: shape, found: t.shape)
            }
        }
        let (D, H, K, E, M, V) = (c.dModel, c.nHeads, c.nKeyValueHeads, c.dHead, c.dMLP, c.dVocab)
        try check(w.W_E, "embed.W_E", [V, D])
        try check(w.W_pos, "pos_embed.W_pos", [c.nCtx, D])
        try check(w.W_U, "unembed.W_U", [D, V])
        try check(w.b_U, "unembed.b_U", [V])
        guard w.blocks.count == c.nLayers else {
            throw MechanicError.invalidArgument("the weights have \(w.blocks.count) blocks but the config says n_layers = \(c.nLayers)")
        }
        for (l, b) in w.blocks.enumerated() {
            let p = "blocks.\(l)."
            try check(b.W_Q, p + "attn.W_Q", [H, D, E]); try check(b.W_K, p + "attn.W_K", [K, D, E])
            try check(b.W_V, p + "attn.W_V", [K, D, E]); try check(b.W_O, p + "attn.W_O", [H, E, D])
            try check(b.b_Q, p + "attn.b_Q", [H, E]); try check(b.b_K, p + "attn.b_K", [K, E])
            try check(b.b_V, p + "attn.b_V", [K, E]); try check(b.b_O, p + "attn.b_O", [D])
            if !c.attnOnly {
                guard b.W_in != nil, b.W_out != nil, !c.gatedMLP || b.W_gate != nil else {
                    throw MechanicError.invalidArgument("\(p)mlp: weights missing for a model with MLPs")
                }
                try check(b.W_in, p + "mlp.W_in", [D, M]); try check(b.W_gate, p + "mlp.W_gate", [D, M])
                try check(b.W_out, p + "mlp.W_out", [M, D]); try check(b.b_in, p + "mlp.b_in", [M])
                try check(b.b_out, p + "mlp.b_out", [D])
            }
        }
    }
}
