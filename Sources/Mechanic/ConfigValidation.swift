/// Checks on a `ModelConfig` before anything is sized from it: the relations between its sizes
/// (heads divide the width, rotary fits in a head) and that every tensor the model builds has an
/// element count that fits in memory arithmetic. A `config.json` is validated with the names of
/// its own keys; a `ModelConfig` built in code with TransformerLens's names.
public enum ConfigLimits {
    /// The most elements one tensor may have (2^40 float32 = 4 TiB, beyond any machine's memory;
    /// every real checkpoint's largest tensor is far below). Keeps every later product of a tensor
    /// size with a batch or position count well inside `Int`.
    public static let maxTensorElements = 1 << 40
    /// The most layers a model may have (real models have at most a few hundred).
    public static let maxLayers = 1 << 16
}

/// The `config.json` key (or TransformerLens name) behind each size, for messages.
struct ConfigKeyNames {
    var dModel = "d_model", nLayers = "n_layers", nHeads = "n_heads", nKeyValueHeads = "n_key_value_heads"
    var dHead = "d_head", dMLP = "d_mlp", dVocab = "d_vocab", nCtx = "n_ctx", rotary = "rotary_dim"

    static let transformerLens = ConfigKeyNames()
}

extension ModelConfig {
    /// Throws `badConfig(file:…)` naming the key when a size is out of range or a tensor's element
    /// count overflows or exceeds `ConfigLimits.maxTensorElements`.
    func validate(file: String, keys k: ConfigKeyNames = .transformerLens) throws {
        func fail(_ reason: String) -> MechanicError { .badConfig(file: file, reason: reason) }
        for (value, key) in [(dModel, k.dModel), (nHeads, k.nHeads), (nKeyValueHeads, k.nKeyValueHeads),
                             (dHead, k.dHead), (dVocab, k.dVocab), (nCtx, k.nCtx)] where value <= 0 {
            throw fail("\(key) must be a positive integer, found \(value)")
        }
        // config.json asks for positive counts; a model built in code may have no layers or no MLP width.
        for (value, key) in [(nLayers, k.nLayers), (dMLP, k.dMLP)] where value < 0 {
            throw fail("\(key) must be an integer ≥ 0, found \(value)")
        }
        guard nLayers <= ConfigLimits.maxLayers else {
            throw fail("\(k.nLayers) \(nLayers) is implausibly large (at most \(ConfigLimits.maxLayers) layers)")
        }
        guard nHeads % nKeyValueHeads == 0 else {
            throw fail("\(k.nHeads) \(nHeads) is not a multiple of \(k.nKeyValueHeads) \(nKeyValueHeads)")
        }
        if positionalEmbedding == .rotary {
            guard rotaryDim >= 0, rotaryDim <= dHead, rotaryDim % 2 == 0 else {
                throw fail("\(k.rotary) gives \(rotaryDim) rotary dimensions per head, which must be even and at most the head size \(dHead)")
            }
        }
        guard eps.isFinite, eps >= 0 else { throw fail("the norm epsilon must be a finite number ≥ 0, found \(eps)") }
        guard rotaryBase.isFinite, rotaryBase > 0 else { throw fail("the rotary base must be a finite number > 0, found \(rotaryBase)") }
        if let w = slidingWindow, w <= 0 { throw fail("sliding_window must be a positive integer, found \(w)") }

        /// `a · b · …` or an error naming the tensor when it overflows or exceeds the limit.
        func elements(_ what: String, _ factors: [(Int, String)]) throws -> Int {
            var n = 1
            for (f, _) in factors {
                let (p, overflow) = n.multipliedReportingOverflow(by: f)
                guard !overflow, p <= ConfigLimits.maxTensorElements else {
                    let named = factors.map { "\($0.1) \($0.0)" }.joined(separator: " × ")
                    throw fail("\(what) would have \(named) elements, more than any memory holds — check \(factors.map(\.1).joined(separator: ", "))")
                }
                n = p
            }
            return n
        }
        // n_key_value_heads divides n_heads, so n_heads + 2·n_key_value_heads ≤ 3·n_heads (a bound is enough here).
        let h = try elements("the attention heads", [(nHeads, k.nHeads), (3, "query/key/value")])
        _ = try elements("the embedding", [(dVocab, k.dVocab), (dModel, k.dModel)])
        _ = try elements("the query/key/value projection", [(h, "3·\(k.nHeads)"), (dHead, k.dHead), (dModel, k.dModel)])
        if dMLP > 0 { _ = try elements("the MLP", [(dMLP, k.dMLP), (dModel, k.dModel)]) }
        if positionalEmbedding == .standard { _ = try elements("the position embedding", [(nCtx, k.nCtx), (dModel, k.dModel)]) }
        if positionalEmbedding == .rotary {
            // The sine and cosine tables are built when the model loads: [n_ctx, rotary_dim] each.
            let n = try elements("the rotary tables", [(nCtx, k.nCtx), (rotaryDim, k.rotary), (8, "bytes")])
            let available = SystemMemory.availableBytes()
            guard n <= available / 2 else {
                throw fail("\(k.nCtx) \(nCtx) needs \(n / 1_000_000) MB of rotary tables but only \(available / 1_000_000) MB of memory is available")
            }
        }
    }
}
