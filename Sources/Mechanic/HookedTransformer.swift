import Foundation
import MechanicIO
import MechanicTensor
import MechanicTokenizers

/// A transformer language model with every internal activation exposed under TransformerLens's
/// hook names. Weights live in `weights`, each stored once: query/key/value fused as the forward
/// reads them, TransformerLens's per-head views derived on demand (`BlockWeights`).
public final class HookedTransformer: @unchecked Sendable {
    public let config: ModelConfig
    public let weights: ModelWeights
    /// The tokenizer: from the model directory, or attached with `load(_:tokenizer:)` /
    /// `setTokenizer(_:)` (checked against `d_vocab` either way).
    public internal(set) var tokenizer: Tokenizer?
    /// `config.json`'s `bos_token_id` (when it is an id below `d_vocab`), the BOS of a model that
    /// ships without tokenizer files; see `bosTokenId`.
    public internal(set) var configBosTokenId: Int?
    /// The processing applied to `weights` (`.none` for `from_pretrained_no_processing`).
    public let processing: WeightProcessing
    /// Where the model came from (a directory), for messages.
    public let source: String
    /// Where the weights came from: the weight cache (mapped in place), the checkpoint, memory.
    public internal(set) var weightLoad = WeightLoadReport(source: .memory)

    let blockNames: [BlockHookNames]
    let blockStore: BlockStore
    let rotary: RotaryTables?

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
        blockStore = .resident(weights.blocks.map(\.fused))
    }

    /// A model whose blocks stay in the checkpoint (memory-mapped, in their stored precision) and
    /// are converted, processed and widened to float32 one at a time while the forward runs.
    init(config: ModelConfig, globals: ModelWeights, streaming: StreamingBlocks, tokenizer: Tokenizer?,
         processing: WeightProcessing, source: String) {
        self.config = config
        self.weights = globals
        self.tokenizer = tokenizer
        self.processing = processing
        self.source = source
        blockNames = (0..<config.nLayers).map(BlockHookNames.init)
        rotary = config.positionalEmbedding == .rotary ? RotaryTables(config) : nil
        blockStore = .streaming(streaming)
        weightLoad = WeightLoadReport(source: .streamed)
    }

    enum BlockStore {
        case resident([FusedAttention])
        case streaming(StreamingBlocks)
    }

    /// Whether blocks are streamed from the checkpoint (and `weights` holds only the globals).
    public var streamsWeights: Bool { if case .streaming = blockStore { return true } else { return false } }

    /// The weights of block `l` in TransformerLens's layout — the one way to read a block from
    /// outside the core. A resident model returns its stored tensors (no copy: `Tensor` is
    /// copy-on-write); a streamed model reads, converts and processes the block from the
    /// checkpoint on every call, so callers that use a block repeatedly fetch it once and keep it.
    public func block(_ l: Int) throws -> BlockWeights {
        try checkLayer(l)
        switch blockStore {
        case .resident: return weights.blocks[l]
        case let .streaming(s): return try s.load(l)
        }
    }

    private func checkLayer(_ l: Int) throws {
        guard (0..<config.nLayers).contains(l) else {
            throw MechanicError.invalidArgument("layer \(l) does not exist (the model has \(config.nLayers) layers)")
        }
    }

    /// Block `l`'s query/key/value weights fused for `Kernels.project` (a resident model's own,
    /// without a copy; a streamed model's block is read and fused on each call).
    public func fusedAttention(_ l: Int) throws -> FusedAttention {
        try checkLayer(l)
        return try blockForForward(l).fused
    }

    func blockForForward(_ l: Int) throws -> (weights: BlockWeights, fused: FusedAttention) {
        switch blockStore {
        case let .resident(fused): return (weights.blocks[l], fused[l])
        case let .streaming(s):
            let b = try s.load(l)
            return (b, b.fused)
        }
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
        guard has("tokenizer.json") || (has("vocab.json") && has("merges.txt")) || has("tokenizer.model") else { return nil }
        return try Tokenizer.load(directory: directory)
    }

    private static func validate(_ w: ModelWeights, _ c: ModelConfig) throws {
        try c.validate(file: "the model config")
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
        guard w.blocks.count == c.nLayers || w.blocks.isEmpty && c.nLayers == 0 else {
            throw MechanicError.invalidArgument("the weights have \(w.blocks.count) blocks but the config says n_layers = \(c.nLayers)")
        }
        for (l, b) in w.blocks.enumerated() {
            let p = "blocks.\(l)."
            try check(b.wQKV, p + "attn.W_QKV", [D, (H + 2 * K) * E]); try check(b.bQKV, p + "attn.b_QKV", [(H + 2 * K) * E])
            guard b.attnShape.heads == H, b.attnShape.kvHeads == K, b.attnShape.dHead == E else {
                throw SafeTensorsError.wrongShape(file: "<weights>", tensor: p + "attn.W_Q", expected: [H, D, E],
                                                  found: [b.attnShape.heads, D, b.attnShape.dHead])
            }
            try check(b.W_O, p + "attn.W_O", [H, E, D]); try check(b.b_O, p + "attn.b_O", [D])
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
