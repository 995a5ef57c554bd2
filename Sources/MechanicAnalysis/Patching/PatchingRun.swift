// MechanicAnalysis/Patching: activation patching (every get_act_patch_* kind), ablation, path
// patching, attribution patching (AtP/AtP*), and the packed engine (Packed*: from the patched layer
// and position on, touched heads only, over Kernels).

import Mechanic

/// One activation-patching experiment: a model, prompt pairs of one length, a metric, and the
/// clean/corrupted runs every patch reuses.
///
/// The *target* run is the one patched into (the corrupted prompts for `.denoise`, the clean
/// prompts for ablations); the *source* supplies the patched values (the clean run's
/// activations, zeros, the mean over all prompts, or the corrupted run's activations).
/// Activations are cached lazily, per activation kind, the first time a patch needs them.
public final class PatchingRun {
    public let model: HookedTransformer
    public let pairs: [PatchingPair]
    public let mode: PatchingMode
    /// Tokens per prompt (every pair has this length).
    public let positions: Int
    /// Most tokens (rows × positions) one batched forward may hold; bounds memory.
    public var maxBatchTokens = 4096
    /// The prompts `.ablate(.mean)` averages over, position by position (each of `positions`
    /// tokens); nil = every clean and corrupted prompt of the run.
    public var meanPrompts: [[Int]]? {
        didSet { meanCache = [:] }
    }

    let clean: TokenBatch
    let corrupt: TokenBatch
    let context: MetricContext
    private(set) var cleanCache: [String: Tensor] = [:]
    private(set) var corruptCache: [String: Tensor] = [:]
    private var meanCache: [String: Tensor] = [:]

    /// Progress (patches done) and cancellation: every sweep of this run reports to it between
    /// chunks of work and stops there, throwing `MechanicError.cancelled`, once it is cancelled.
    public var progress: WorkProgress?

    /// Runs the clean and corrupted prompts once (final-position logits) for the metric.
    public convenience init(model: HookedTransformer, pairs: [PatchingPair], metric: PatchingMetric = .logitDiff,
                            mode: PatchingMode = .denoise) throws {
        try self.init(model: model, pairs: pairs, metric: metric, mode: mode, normalization: nil)
    }

    /// `normalization`: the clean and corrupted logit differences the normalised metric uses
    /// instead of this run's own (a batch of a streamed sweep normalises by every pair's).
    init(model: HookedTransformer, pairs: [PatchingPair], metric: PatchingMetric, mode: PatchingMode,
         normalization: (clean: Double, corrupt: Double)?) throws {
        self.model = model
        self.pairs = pairs
        self.mode = mode
        positions = try Self.validate(pairs)
        clean = try TokenBatch(ids: pairs.map(\.clean))
        corrupt = try TokenBatch(ids: pairs.map(\.corrupt))
        // A small run caches every activation in the forwards its metrics need anyway: a short
        // forward costs about one read of every weight, far more than keeping its activations,
        // and the sweeps' own `ensure` then runs no second pair of forwards. The values are those
        // of a forward caching only what a sweep asks for (what a forward caches does not change
        // what it computes: `FastPathTests`).
        let c = model.config
        let all = c.hookNames()
        let prefetch = c.cacheBytes(all, batch: pairs.count, pos: positions, keys: positions) <= Self.prefetchBytes ? all : []
        // Both runs' final rows through one unembedding when they are few: the product streams
        // W_U (the largest matrix) once instead of twice, and a few-row product gives each row
        // what it gives alone.
        let together = 2 * pairs.count <= FewRowProduct.maxRows
        let options = ForwardOptions(cache: .names(prefetch), logits: together ? .none : .last)
        let cleanRun = try model.forward(clean, options: options), corruptRun = try model.forward(corrupt, options: options)
        var logits = (clean: cleanRun.logits?.data ?? [], corrupt: corruptRun.logits?.data ?? [])
        if together, let a = cleanRun.residual, let b = corruptRun.residual {   // final normalised residuals [pairs, P, d_model]
            let P = positions
            let last = (0..<pairs.count).map { $0 * P + P - 1 }   // each sequence's final row of [pairs · P, d_model]
            let rows = concatRows(Kernels.gatherRows(a.reshaped([pairs.count * P, c.dModel]), last),
                                  Kernels.gatherRows(b.reshaped([pairs.count * P, c.dModel]), last))   // [2 · pairs, d_model]
            let both = Kernels.unembed(rows, W_U: model.weights.W_U, b_U: model.weights.b_U).data   // [2 · pairs, d_vocab]
            logits = (Array(both[0..<both.count / 2]), Array(both[(both.count / 2)...]))
        }
        context = try MetricContext(metric: metric, answers: pairs.map(\.answer), wrongs: pairs.map(\.wrong),
                                    clean: logits.clean, corrupt: logits.corrupt, dVocab: c.dVocab,
                                    normalization: normalization)
        cleanCache = cleanRun.cache.activations
        corruptCache = corruptRun.cache.activations
    }

    /// The most bytes (activations and final logits, per run) a run caches in its first forwards
    /// without being asked: a one-pair sweep of 15 tokens on GPT-2 small needs about 14 MB.
    static let prefetchBytes = 32 << 20

    /// Checks that there are pairs, each valid, all of one length; returns that length.
    static func validate(_ pairs: [PatchingPair]) throws -> Int {
        guard let first = pairs.first else { throw MechanicError.emptyInput("activation patching needs at least one prompt pair") }
        for (i, p) in pairs.enumerated() { try p.validate(index: pairs.count > 1 ? i : nil) }
        let lengths = Set(pairs.map(\.clean.count))
        guard lengths.count == 1 else {
            throw MechanicError.invalidArgument("the prompt pairs have different lengths (\(lengths.sorted().map(String.init).joined(separator: ", ")) tokens); patching results are indexed by position, so every pair must have the same number of tokens")
        }
        return first.clean.count
    }

    /// Convenience for one pair of token-id prompts.
    public convenience init(model: HookedTransformer, clean: [Int], corrupt: [Int], answer: Int, wrong: Int,
                            metric: PatchingMetric = .logitDiff, mode: PatchingMode = .denoise) throws {
        try self.init(model: model, pairs: [PatchingPair(clean: clean, corrupt: corrupt, answer: answer, wrong: wrong)],
                      metric: metric, mode: mode)
    }

    public var metric: PatchingMetric { context.metric }
    public var cleanMetric: Double { context.cleanMetric }
    public var corruptMetric: Double { context.corruptMetric }

    /// The batch that is patched into.
    var target: TokenBatch {
        if case .denoise = mode { return corrupt }
        return clean
    }

    /// Caches, in the clean and corrupted runs, the activations of every name not yet cached.
    package func ensure(_ names: [String]) throws {
        for (batch, isClean) in [(clean, true), (corrupt, false)] {
            let missing = Array(Set(names.filter { (isClean ? cleanCache[$0] : corruptCache[$0]) == nil })).sorted()
            guard !missing.isEmpty else { continue }
            let r = try model.forward(batch, options: ForwardOptions(cache: .names(missing), logits: .none))
            for n in missing {
                let t = try r.cache.require(n)
                if isClean { cleanCache[n] = t } else { corruptCache[n] = t }
            }
        }
    }

    /// Takes the target run's activations from a forward made elsewhere on the same prompts
    /// (the gradient pass of attribution patching), so that they are not computed again.
    func presetTarget(_ cache: ActivationCache) {
        if case .denoise = mode {
            for (n, t) in cache.activations where corruptCache[n] == nil { corruptCache[n] = t }
        } else {
            for (n, t) in cache.activations where cleanCache[n] == nil { cleanCache[n] = t }
        }
    }

    /// The clean run's activation `name`, `[pairs, ...]`.
    func cleanActivation(_ name: String) throws -> Tensor {
        try ensure([name])
        return try require(cleanCache, name)
    }

    /// The corrupted run's activation `name`, `[pairs, ...]`.
    func corruptActivation(_ name: String) throws -> Tensor {
        try ensure([name])
        return try require(corruptCache, name)
    }

    /// The target run's activation `name`, `[pairs, ...]`.
    func targetActivation(_ name: String) throws -> Tensor {
        try ensure([name])
        if case .denoise = mode { return try require(corruptCache, name) }
        return try require(cleanCache, name)
    }

    /// The patched values of `name`: `[pairs, ...]` or `[1, ...]` (mean), nil for zeros.
    func sourceActivation(_ name: String) throws -> Tensor? {
        switch mode {
        case .denoise:
            try ensure([name])
            return try require(cleanCache, name)
        case .ablate(.zero):
            return nil
        case .ablate(.resample):
            try ensure([name])
            return try require(corruptCache, name)
        case .ablate(.mean):
            if let m = meanCache[name] { return m }
            let m: Tensor
            if let prompts = meanPrompts {
                try Self.checkMeanPrompts(prompts, positions: positions)
                let r = try model.forward(TokenBatch(ids: prompts), options: ForwardOptions(cache: .names([name]), logits: .none))
                m = Self.meanOverBatch([try r.cache.require(name)])
            } else {
                try ensure([name])
                m = Self.meanOverBatch([try require(cleanCache, name), try require(corruptCache, name)])
            }
            meanCache[name] = m
            return m
        }
    }

    /// Mean activations computed elsewhere (over every prompt of a streamed sweep), used by
    /// `.ablate(.mean)` instead of this run's own.
    func presetMeans(_ means: [String: Tensor]) {
        for (name, mean) in means { meanCache[name] = mean }
    }

    /// The prompts `.ablate(.mean)` averages over must be as long as the run's.
    static func checkMeanPrompts(_ prompts: [[Int]], positions: Int) throws {
        guard !prompts.isEmpty, prompts.allSatisfy({ $0.count == positions }) else {
            throw MechanicError.invalidArgument("mean ablation: the mean prompts must be \(positions) tokens long like the run's prompts (got lengths \(prompts.map(\.count)))")
        }
    }

    private func require(_ cache: [String: Tensor], _ name: String) throws -> Tensor {
        guard let t = cache[name] else { throw MechanicError.invalidArgument("patching: '\(name)' was not cached") }
        return t
    }

    /// Mean over the batch axis of several `[batch, ...]` tensors of one row shape → `[1, ...]`.
    static func meanOverBatch(_ parts: [Tensor]) -> Tensor {
        guard let first = parts.first else { return Tensor(zeros: [1]) }
        let row = first.count / max(first.shape[0], 1)
        var sum = [Double](repeating: 0, count: row)
        var rows = 0
        for t in parts {
            for b in 0..<t.shape[0] {
                for i in 0..<row { sum[i] += Double(t.data[b * row + i]) }
                rows += 1
            }
        }
        return Tensor(shape: [1] + first.shape.dropFirst(), data: sum.map { Float($0 / Double(max(rows, 1))) })
    }
}
