import MechanicTensor

/// What one forward pass should do besides computing logits.
public struct ForwardOptions {
    /// Hooks to run (gone after the call).
    public var hooks: [Hook] = []
    /// Which activations to cache.
    public var cache: NamesFilter = .none
    /// Optional hook points (attn result, split qkv input, attn_in, mlp_in).
    public var hookOptions = HookOptions()
    /// Run blocks from this layer on; the input is then the residual stream before it.
    public var startAtLayer: Int? = nil
    /// Stop before this block and return the residual stream (`hook_resid_pre` of that layer).
    public var stopAtLayer: Int? = nil
    /// Which positions get logits: all (as TransformerLens), only each row's last real token, or none.
    public var logits: LogitPositions = .all

    public enum LogitPositions: Sendable { case all, last, none }

    public init(hooks: [Hook] = [], cache: NamesFilter = .none, hookOptions: HookOptions = HookOptions(),
                startAtLayer: Int? = nil, stopAtLayer: Int? = nil, logits: LogitPositions = .all) {
        self.hooks = hooks
        self.cache = cache
        self.hookOptions = hookOptions
        self.startAtLayer = startAtLayer
        self.stopAtLayer = stopAtLayer
        self.logits = logits
    }
}

/// What a forward pass returns.
public struct ForwardResult: Sendable {
    /// `[batch, pos, d_vocab]` (or `[batch, 1, d_vocab]` for `.last`); nil when stopped early or not asked.
    public var logits: Tensor?
    /// The residual stream where the pass stopped (`stopAtLayer`), `[batch, pos, d_model]`.
    public var residual: Tensor?
    public var cache: ActivationCache
}

/// State shared by the layers of one forward pass.
final class ForwardContext {
    let batch: Int
    let length: Int
    let hooks: HookRunner
    let options: HookOptions
    let pastLength: Int
    /// Mask over past + current positions, `[batch][past + pos]`.
    let fullMask: [[Int]]
    /// Position of each current token, counting only real tokens (`[batch][pos]`).
    let positions: [[Int]]
    let kvCache: KVCache?
    /// The MLPs' hidden activations when no hook reads them (one buffer for every layer).
    let mlpScratch = MLPScratch()

    init(batch: TokenBatch, hooks: HookRunner, options: HookOptions, kvCache: KVCache?) {
        self.batch = batch.batch
        self.length = batch.length
        self.hooks = hooks
        self.options = options
        self.kvCache = kvCache
        pastLength = kvCache?.length ?? 0
        let full = (0..<batch.batch).map { (kvCache?.mask[$0] ?? []) + batch.mask[$0] }
        fullMask = full
        // TransformerLens's get_offset_position_ids: cumsum(mask) - 1, clipped at 0.
        positions = full.map { row in
            var acc = -1
            let all = row.map { m -> Int in acc += m; return max(acc, 0) }
            return Array(all.suffix(batch.length))
        }
    }
}

extension HookedTransformer {
    /// Runs the model on `batch` with the hooks and caching of `options`.
    public func forward(_ batch: TokenBatch, options: ForwardOptions = ForwardOptions(),
                        residual: Tensor? = nil, kvCache: KVCache? = nil) throws -> ForwardResult {
        let c = config
        let start = options.startAtLayer ?? 0
        let stop = options.stopAtLayer ?? c.nLayers
        guard (0...c.nLayers).contains(start), (0...c.nLayers).contains(stop), start <= stop else {
            throw MechanicError.invalidArgument("start_at_layer \(start) / stop_at_layer \(stop) must satisfy 0 ≤ start ≤ stop ≤ \(c.nLayers)")
        }
        let total = (kvCache?.length ?? 0) + batch.length
        guard batch.length > 0 else { throw MechanicError.emptyInput("no tokens to run") }
        guard total <= c.nCtx else { throw MechanicError.promptTooLong(tokens: total, nCtx: c.nCtx) }
        if let w = c.slidingWindow, total > w {
            throw MechanicError.unsupportedConfig(file: source, key: "sliding_window", value: "\(w)",
                                                  reason: "the input has \(total) positions; sliding-window attention is not implemented")
        }
        for row in batch.ids { for id in row where id < 0 || id >= c.dVocab { throw MechanicError.tokenOutOfRange(id: id, dVocab: c.dVocab) } }

        // Hooks and cache requests, validated against this model's hook points.
        for h in options.hooks { try c.validateHookName(h.name) }
        var requested: [String]
        switch options.cache {
        case .names(let list):
            for name in list { try c.validateHookName(name) }
            requested = list
        case .regex(let pattern):
            requested = try c.selectHooks(matching: pattern, base: options.hookOptions)
        default:
            requested = try options.cache.select(from: c.hookNames(options.hookOptions))
        }
        let hookOptions = c.hookOptions(enabling: requested + options.hooks.map(\.name), base: options.hookOptions)
        if hookOptions.splitQKVInput && hookOptions.attnIn {
            throw MechanicError.invalidArgument("hook_attn_in and the split q/k/v input hooks cannot be used together (as in TransformerLens)")
        }
        try checkCacheFits(requested, batch: batch.batch, pos: batch.length, keys: total,
                           perHeadLN1: hookOptions.splitQKVInput || hookOptions.attnIn)
        let runner = HookRunner(hooks: options.hooks, cacheNames: Set(requested))
        let ctx = ForwardContext(batch: batch, hooks: runner, options: hookOptions, kvCache: kvCache)

        var resid: Tensor
        if let residual {
            guard residual.shape == [batch.batch, batch.length, c.dModel] else {
                throw MechanicError.invalidArgument("the residual input has shape \(residual.shape), expected \([batch.batch, batch.length, c.dModel])")
            }
            resid = residual
        } else {
            guard start == 0 else { throw MechanicError.invalidArgument("start_at_layer \(start) needs the residual stream as input") }
            resid = try embed(batch, ctx: ctx)
        }
        for l in start..<stop { resid = try block(l, resid, ctx: ctx) }
        kvCache?.commit(mask: batch.mask)
        let cache = ActivationCache(runner.cache, config: c)
        if stop < c.nLayers { return ForwardResult(logits: nil, residual: resid, cache: cache) }

        var x = try applyNorm(resid, c.normalization, weight: weights.lnFinalW, bias: weights.lnFinalB, eps: c.eps,
                              scaleName: "ln_final.hook_scale", normalizedName: "ln_final.hook_normalized", layer: nil, hooks: runner)
        let finalCache = ActivationCache(runner.cache, config: c)
        switch options.logits {
        case .none:
            return ForwardResult(logits: nil, residual: x, cache: finalCache)
        case .last:
            let rows = batch.lastPositions.enumerated().map { b, p in b * batch.length + p }
            x = Kernels.gatherRows(x.reshaped([batch.batch * batch.length, c.dModel]), rows)
                .reshaped([batch.batch, 1, c.dModel])                                            // [batch, 1, d_model]
            return ForwardResult(logits: Kernels.unembed(x, W_U: weights.W_U, b_U: weights.b_U), residual: nil, cache: finalCache)
        case .all:
            return ForwardResult(logits: Kernels.unembed(x, W_U: weights.W_U, b_U: weights.b_U), residual: nil, cache: finalCache)  // [batch, pos, d_vocab]
        }
    }

    /// `hook_embed` (+ `hook_pos_embed` for learned positions): the residual stream before block 0.
    func embed(_ batch: TokenBatch, ctx: ForwardContext) throws -> Tensor {
        let D = config.dModel
        var embed = Tensor(shape: [batch.batch, batch.length, D]) { out in
            var o = 0
            for row in batch.ids {
                for id in row {
                    for m in 0..<D { out[o + m] = weights.W_E.data[id * D + m] }
                    o += D
                }
            }
        }
        try ctx.hooks.fire("hook_embed", layer: nil, &embed)
        guard let W_pos = weights.W_pos, config.positionalEmbedding == .standard else { return embed }
        // Learned positions; padding positions get a zero position embedding (as TransformerLens).
        var pos = Tensor(shape: [batch.batch, batch.length, D]) { out in
            for b in 0..<batch.batch {
                for p in 0..<batch.length {
                    let o = (b * batch.length + p) * D
                    let real = batch.mask[b][p] == 1
                    let row = ctx.positions[b][p] * D
                    for m in 0..<D { out[o + m] = real ? W_pos.data[row + m] : 0 }
                }
            }
        }
        try ctx.hooks.fire("hook_pos_embed", layer: nil, &pos)
        embed.add(pos)
        return embed
    }

    /// One transformer block: `resid_pre → (+ attn) → resid_mid → (+ mlp) → resid_post`, or the
    /// parallel form `resid_post = resid_pre + attn(ln1(x)) + mlp(ln2(x))`.
    func block(_ l: Int, _ input: Tensor, ctx: ForwardContext) throws -> Tensor {
        let (w, f) = try blockForForward(l)
        let c = config, n = blockNames[l], h = ctx.hooks
        var residPre = input
        try h.fire(n.residPre, layer: l, &residPre)

        func ln1(_ x: Tensor) throws -> Tensor {
            try applyNorm(x, c.normalization, weight: w.ln1W, bias: w.ln1B, eps: c.eps,
                          scaleName: n.ln1Scale, normalizedName: n.ln1Normalized, layer: l, hooks: h)
        }
        var attnOut: Tensor
        if ctx.options.splitQKVInput || ctx.options.attnIn {
            // Per-head inputs: the residual repeated along a head axis, [batch, pos, head, d_model].
            func repeated(_ heads: Int) -> Tensor {
                Tensor(shape: [ctx.batch, ctx.length, heads, c.dModel]) { out in
                    for t in 0..<(ctx.batch * ctx.length) {
                        for hh in 0..<heads { for m in 0..<c.dModel { out[(t * heads + hh) * c.dModel + m] = residPre.data[t * c.dModel + m] } }
                    }
                }
            }
            var qIn: Tensor, kIn: Tensor, vIn: Tensor
            if ctx.options.attnIn {
                var attnIn = repeated(c.nHeads)
                try h.fire(n.attnIn, layer: l, &attnIn)
                (qIn, kIn, vIn) = (attnIn, attnIn, attnIn)
            } else {
                qIn = repeated(c.nHeads); kIn = repeated(c.nKeyValueHeads); vIn = repeated(c.nKeyValueHeads)
                try h.fire(n.qInput, layer: l, &qIn)
                try h.fire(n.kInput, layer: l, &kIn)
                try h.fire(n.vInput, layer: l, &vIn)
            }
            let (qn, kn, vn) = (try ln1(qIn), try ln1(kIn), try ln1(vIn))
            attnOut = try attention(layer: l, w, f, qIn: qn, kIn: kn, vIn: vn, ctx: ctx)
        } else {
            let x = try ln1(residPre)
            attnOut = try attention(layer: l, w, f, qIn: x, kIn: x, vIn: x, ctx: ctx)
        }
        try h.fire(n.attnOut, layer: l, &attnOut)

        if c.attnOnly {
            var post = residPre + attnOut
            try h.fire(n.residPost, layer: l, &post)
            return post
        }
        var residMid = residPre
        if !c.parallelAttnMLP {
            residMid = residPre + attnOut
            try h.fire(n.residMid, layer: l, &residMid)
        }
        var mlpIn = residMid
        if ctx.options.mlpIn { try h.fire(n.mlpIn, layer: l, &mlpIn) }
        let x2 = try applyNorm(mlpIn, c.normalization, weight: w.ln2W, bias: w.ln2B, eps: c.eps,
                               scaleName: n.ln2Scale, normalizedName: n.ln2Normalized, layer: l, hooks: h)
        var mlpOut = try mlp(l, w, x2, ctx: ctx)
        try h.fire(n.mlpOut, layer: l, &mlpOut)
        var post = c.parallelAttnMLP ? residPre + attnOut : residMid
        post.add(mlpOut)
        try h.fire(n.residPost, layer: l, &post)
        return post
    }

    /// `hook_pre`, (`hook_pre_linear`), `hook_post`; returns `post @ W_out + b_out`.
    func mlp(_ l: Int, _ w: BlockWeights, _ x: Tensor, ctx: ForwardContext) throws -> Tensor {
        let n = blockNames[l]
        guard w.W_in != nil, w.W_out != nil else { return Tensor(zeros: x.shape) }
        if !ctx.hooks.wants(n.pre) && !ctx.hooks.wants(n.preLinear) && !ctx.hooks.wants(n.post) {
            return Kernels.mlp(x, w, Kernels.activation(config), scratch: ctx.mlpScratch)   // same values, fewer passes
        }
        var pre = Kernels.mlpPre(x, w)                              // [batch, pos, d_mlp]
        try ctx.hooks.fire(n.pre, layer: l, &pre)
        var preLinear = Kernels.mlpPreLinear(x, w)                  // [batch, pos, d_mlp] (gated MLPs)
        if var linear = preLinear {
            try ctx.hooks.fire(n.preLinear, layer: l, &linear)
            preLinear = linear
        }
        var post = Kernels.mlpPost(pre: pre, preLinear: preLinear, w, Kernels.activation(config))   // [batch, pos, d_mlp]
        try ctx.hooks.fire(n.post, layer: l, &post)
        return Kernels.mlpOut(post: post, w)                        // [batch, pos, d_model]
    }
}
