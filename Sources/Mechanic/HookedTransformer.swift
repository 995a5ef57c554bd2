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
        blockStore = .resident(weights.blocks.map { FusedAttention($0, config) })
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
            return (b, FusedAttention(b, config))
        }
    }

    /// Loads a Hugging Face model directory (config.json, safetensors weights, tokenizer files)
    /// and processes the weights as `from_pretrained` does unless told otherwise.
    /// `streaming`: keep blocks in the checkpoint and widen them per use (nil = automatically when
    /// the float32 weights would take more than 40% of the available memory).
    /// `tokenizer`: a tokenizer.json, a directory or a SentencePiece tokenizer.model to use instead
    /// of the directory's tokenizer files (for checkpoints that ship without them).
    public static func load(_ directory: URL, processing: WeightProcessing = .default,
                            streaming: Bool? = nil, tokenizer tokenizerPath: URL? = nil) throws -> HookedTransformer {
        let hf = try HFConfig(url: directory.appendingPathComponent("config.json"))
        let model = try loadModel(directory, hf: hf, processing: processing, streaming: streaming, tokenizerPath: tokenizerPath)
        model.configBosTokenId = configBOS(hf, dVocab: model.config.dVocab)
        return model
    }

    private static func loadModel(_ directory: URL, hf: HFConfig, processing: WeightProcessing, streaming: Bool?,
                                  tokenizerPath: URL?) throws -> HookedTransformer {
        var config = try architectureConfig(hf)
        let tokenizer = try tokenizerPath.map { try Tokenizer.load(path: $0) } ?? loadTokenizer(directory)
        if let tokenizer { try checkTokenizer(tokenizer, fits: config.dVocab, configFile: hf.path) }
        let checkpoint = try Checkpoint(directory: directory)
        let arch = Architecture(config)
        let floatBytes = checkpoint.names.reduce(0) { n, name in n + ((try? checkpoint.entry(name).info.count) ?? 0) * 4 }
        if streaming ?? (Double(floatBytes) > 0.4 * Double(SystemMemory.availableBytes())) {
            let blocks = try StreamingBlocks(checkpoint: checkpoint, architecture: arch, config: config, processing: processing)
            var globals = try blocks.globals()
            processing.processGlobals(&globals, config: config)
            config = processing.processedConfig(config)
            return HookedTransformer(config: config, globals: globals, streaming: blocks, tokenizer: tokenizer,
                                     processing: processing, source: directory.path)
        }
        var weights = try arch.weights(checkpoint, config)
        processing.apply(to: &weights, config: &config)
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
