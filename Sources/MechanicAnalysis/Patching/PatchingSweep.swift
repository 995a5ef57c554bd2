import Mechanic

/// Activation patching, ablation and path patching over many prompt pairs in bounded memory:
/// the pairs go through in batches of `pairBatchSize`, each batch a `PatchingRun` whose caches
/// are dropped after it, and the batch results combine into exactly the all-pairs answer.
///
/// Every metric is a mean over pairs (the KL divergence, probability and loss per pair, the
/// logit difference of the pair), so a batch's values count by its share of the pairs. The
/// normalised logit difference is affine in the mean logit difference: each batch normalises
/// with the clean and corrupted logit differences of *every* pair (a first pass over the pairs,
/// final-position logits only), and the weighted mean is the normalised mean. Mean ablation
/// replaces activations by their mean over *all* prompts (clean and corrupted of every pair, or
/// `meanPrompts`), computed in a streaming first pass and given to every batch. Memory holds the
/// tokens of every pair plus the caches of one batch; when every pair fits in one batch the
/// sweep is one `PatchingRun`, kept between calls.
public final class PatchingSweep {
    public let model: HookedTransformer
    public let pairs: [PatchingPair]
    public let metric: PatchingMetric
    public let mode: PatchingMode
    /// Pairs per batch (the last batch may hold fewer).
    public let pairBatchSize: Int
    /// Tokens per prompt of the first pair (of every pair, unless `lengthGroups` holds several).
    public let positions: Int
    /// The pairs grouped by length (one group when every pair has the same length).
    public let lengthGroups: [LengthGroup]
    /// Most tokens (rows × positions) one batched forward may hold (`PatchingRun.maxBatchTokens`).
    public var maxBatchTokens = 4096 { didSet { single?.maxBatchTokens = maxBatchTokens } }
    /// The prompts `.ablate(.mean)` averages over (nil = every clean and corrupted prompt).
    public var meanPrompts: [[Int]]? { didSet { single?.meanPrompts = meanPrompts } }
    /// Progress in patches over every pair, and cancellation between chunks of work.
    public var progress: WorkProgress? { didSet { single?.progress = progress } }

    /// The 1/N of the pairs this process sweeps (nil: every pair). A sharded sweep's results hold
    /// only its pairs' share; `lastPartial` is what `PatchingPartial.merge` combines.
    public let shard: Shard?
    /// Indices of the pairs this sweep runs (every pair unless sharded).
    public let ownedPairs: Range<Int>
    /// The shard's partial of the last result (sharded sweeps only).
    public internal(set) var lastPartial: PatchingPartial?
    /// The shard's partial of the last attribution result (sharded sweeps only).
    public internal(set) var lastAttributionPartial: AttributionPartial?

    /// The run of all pairs when they fit in one batch.
    let single: PatchingRun?
    /// Clean and corrupted mean logit differences of every pair (normalised metric, several batches).
    let normalization: (clean: Double, corrupt: Double)?

    /// Checks the pairs; with the normalised logit difference and several batches (or a shard),
    /// runs the clean and corrupted prompts of every pair once (final-position logits) for the
    /// normalisation. `shard`: run only that 1/N of the pairs (consecutive, `Shard.range`); mean
    /// ablation's means and the normalisation still cover every pair, as in the unsharded run.
    public init(model: HookedTransformer, pairs: [PatchingPair], metric: PatchingMetric = .logitDiff,
                mode: PatchingMode = .denoise, pairBatchSize: Int = 32, shard: Shard? = nil) throws {
        guard pairBatchSize >= 1 else {
            throw MechanicError.invalidArgument("the pair batch size must be at least 1 (got \(pairBatchSize))")
        }
        lengthGroups = try Self.groupByLength(pairs)
        positions = lengthGroups[0].length
        let V = model.config.dVocab
        for id in pairs.flatMap({ [$0.answer, $0.wrong] }) where !(0..<V).contains(id) { throw MechanicError.tokenOutOfRange(id: id, dVocab: V) }
        self.model = model
        self.pairs = pairs
        self.metric = metric
        self.mode = mode
        self.pairBatchSize = pairBatchSize
        self.shard = shard
        ownedPairs = shard?.range(of: pairs.count) ?? 0..<pairs.count
        if shard == nil && pairs.count <= pairBatchSize && lengthGroups.count == 1 {
            single = try PatchingRun(model: model, pairs: pairs, metric: metric, mode: mode)
            normalization = nil
        } else {
            single = nil
            normalization = metric == .normalizedLogitDiff
                ? try Self.logitDiffs(model, batches: Self.batches(pairs, groups: lengthGroups, size: pairBatchSize), pairs: pairs.count) : nil
        }
    }

    /// Number of batches the pairs go through in.
    public var batchCount: Int { lengthGroups.reduce(0) { $0 + ($1.pairs.count + pairBatchSize - 1) / pairBatchSize } }

    /// `PatchingRun.run(_:neuronPositions:engine:)` over every pair.
    public func run(_ kind: ActPatchKind, neuronPositions: ActPatchKind.NeuronPositions = .all,
                    engine: PatchEngine = .fast) throws -> PatchingResult {
        if let single { return try single.run(kind, neuronPositions: neuronPositions, engine: engine) }
        let c = model.config
        try kind.checkSupported(c)
        try requireOneLength(for: kind)
        let (values, summary) = try combine(patches: kind.patchCount(c, positions: positions, neuronPositions: neuronPositions),
                                            meanHooks: kind.hooks(c, positions: positions, neuronPositions: neuronPositions)) {
            try $0.values(kind, neuronPositions: neuronPositions, engine: engine)
        }
        return finish(summary, act: kind.rawValue, axes: kind.axes(), shape: kind.shape(c, positions: positions), values: values,
                      normalized: normalization != nil)
    }

    /// `PatchingRun.evaluate(_:engine:)` over every pair: the metric after each site alone.
    public func evaluate(_ sites: [PatchSite], engine: PatchEngine = .fast) throws -> [Double] {
        if let single { return try single.evaluate(sites, engine: engine) }
        try requireUnsharded("evaluating chosen patch sites")
        try requireOneLength(for: sites)
        return try combine(patches: sites.count, meanHooks: Set(sites.map(\.hook))) { try $0.evaluate(sites, engine: engine) }.values
    }

    /// `PatchingRun.pathPatch(senderSets:receivers:freezeMLPs:)` over every pair.
    public func pathPatch(senderSets: [[HeadIndex]], receivers: [PathReceiver], freezeMLPs: Bool = false) throws -> [Double] {
        try requireUnsharded("path patching of sender sets without a result")
        return try pathValues(senderSets: senderSets, receivers: receivers, freezeMLPs: freezeMLPs).values
    }

    /// `PatchingRun.pathPatchResult(senders:receivers:freezeMLPs:)` over every pair.
    public func pathPatchResult(senders: [HeadIndex], receivers: [PathReceiver], freezeMLPs: Bool = false) throws -> PatchingResult {
        if let single { return try single.pathPatchResult(senders: senders, receivers: receivers, freezeMLPs: freezeMLPs) }
        let (values, summary) = try pathValues(senderSets: [senders], receivers: receivers, freezeMLPs: freezeMLPs)
        return finish(summary, act: "path", axes: [], shape: [], values: values, normalized: normalization != nil)
    }

    /// `PatchingRun.pathPatchEachHead(receivers:freezeMLPs:)` over every pair: `[layer, head]`.
    public func pathPatchEachHead(receivers: [PathReceiver], freezeMLPs: Bool = false) throws -> PatchingResult {
        if let single { return try single.pathPatchEachHead(receivers: receivers, freezeMLPs: freezeMLPs) }
        let c = model.config
        let sets = (0..<c.nLayers).flatMap { l in (0..<c.nHeads).map { [HeadIndex(layer: l, head: $0)] } }
        let (values, summary) = try pathValues(senderSets: sets, receivers: receivers, freezeMLPs: freezeMLPs)
        let name = "path:" + (receivers.isEmpty ? "logits" : receivers.map(\.description).joined(separator: ","))
        return finish(summary, act: name, axes: ["layer", "head"], shape: [c.nLayers, c.nHeads], values: values,
                      normalized: normalization != nil)
    }

    private func pathValues(senderSets: [[HeadIndex]], receivers: [PathReceiver], freezeMLPs: Bool) throws -> (values: [Double], summary: Summary) {
        if let single {
            let values = try single.pathPatch(senderSets: senderSets, receivers: receivers, freezeMLPs: freezeMLPs)
            return (values, Summary(single.context, metric: metric))
        }
        // Path patching changes the clean run with corrupted values: no means are needed.
        return try combine(patches: senderSets.count, meanHooks: []) {
            try $0.pathPatch(senderSets: senderSets, receivers: receivers, freezeMLPs: freezeMLPs)
        }
    }

    /// Runs `body` on a `PatchingRun` of each batch and averages its values (means over the
    /// batch's pairs) weighted by the batch sizes. `meanHooks`: the hook points whose means a
    /// mean ablation needs.
    /// `allPairs`: every pair's batches even in a shard (attribution's estimates).
    func combine(patches: Int, meanHooks: Set<String>, allPairs: Bool = false,
                 _ body: (PatchingRun) throws -> [Double]) throws -> (values: [Double], summary: Summary) {
        try requireOneLengthForMeans()
        func work() throws -> (values: [Double], summary: Summary) {
            let means = mode == .ablate(.mean) ? try globalMeans(meanHooks) : [:]
            var sums: [Double] = []
            var summary = Summary(metric: metric)
            for batch in allPairs ? Self.batches(pairs, groups: lengthGroups, size: pairBatchSize) : batches() {
                try progress?.check()
                let run = try PatchingRun(model: model, pairs: batch, metric: metric, mode: mode, normalization: normalization)
                run.maxBatchTokens = maxBatchTokens
                run.progress = progress
                run.presetMeans(means)
                let values = try body(run)
                let weight = Double(batch.count) / Double(pairs.count)
                if sums.isEmpty { sums = [Double](repeating: 0, count: values.count) }
                guard sums.count == values.count else { throw MechanicError.invalidArgument("patching: batches gave \(sums.count) and \(values.count) values") }
                for i in values.indices { sums[i] += weight * values[i] }
                summary.add(run.context, weight: weight)
            }
            if let normalization { summary.normalized(normalization) }
            return (sums, summary)
        }
        guard let progress else { return try work() }
        return try progress.run(total: patches, scale: allPairs ? pairs.count : ownedPairs.count, work)
    }

    /// The mean of each hook's activation over the prompts a mean ablation averages (every clean
    /// prompt, then every corrupted prompt — `PatchingRun.meanOverBatch`'s order), one batch of
    /// prompts at a time: `[1, ...]` per hook.
    private func globalMeans(_ hooks: Set<String>) throws -> [String: Tensor] {
        let names = hooks.sorted()
        guard !names.isEmpty else { return [:] }
        let lists: [[[Int]]]
        if let meanPrompts {
            try PatchingRun.checkMeanPrompts(meanPrompts, positions: positions)
            lists = [meanPrompts]
        } else {
            lists = [pairs.map(\.clean), pairs.map(\.corrupt)]
        }
        var sums: [String: [Double]] = [:]
        var shapes: [String: [Int]] = [:]
        var rows = 0
        for prompts in lists {
            for start in stride(from: 0, to: prompts.count, by: pairBatchSize) {
                try progress?.check()
                let batch = Array(prompts[start..<min(start + pairBatchSize, prompts.count)])
                let r = try model.forward(TokenBatch(ids: batch), options: ForwardOptions(cache: .names(names), logits: .none))
                for name in names {
                    let t = try r.cache.require(name)
                    let row = t.count / max(t.shape[0], 1)
                    shapes[name] = [1] + t.shape.dropFirst()
                    var sum = sums[name] ?? [Double](repeating: 0, count: row)
                    t.data.withUnsafeBufferPointer { p in
                        for b in 0..<t.shape[0] { for i in 0..<row { sum[i] += Double(p[b * row + i]) } }
                    }
                    sums[name] = sum
                }
                rows += batch.count
            }
        }
        var means: [String: Tensor] = [:]
        for name in names {
            guard let sum = sums[name], let shape = shapes[name] else { continue }
            means[name] = Tensor(shape: shape, data: sum.map { Float($0 / Double(max(rows, 1))) })
        }
        return means
    }

    /// Mean clean and corrupted logit differences of every pair (batches of final-position logits).
    static func logitDiffs(_ model: HookedTransformer, batches: [[PatchingPair]], pairs count: Int) throws -> (clean: Double, corrupt: Double) {
        let V = model.config.dVocab
        var sums = (clean: 0.0, corrupt: 0.0)
        for batch in batches {
            for isClean in [true, false] {
                let ids = batch.map { isClean ? $0.clean : $0.corrupt }
                let logits = try model.forward(TokenBatch(ids: ids), options: ForwardOptions(logits: .last)).logits ?? Tensor(zeros: [0])
                guard logits.count == batch.count * V else { throw MechanicError.invalidArgument("patching: expected \(batch.count) final-position logit rows of \(V)") }
                var s = 0.0
                for (n, p) in batch.enumerated() { s += Double(logits.data[n * V + p.answer]) - Double(logits.data[n * V + p.wrong]) }
                if isClean { sums.clean += s } else { sums.corrupt += s }
            }
        }
        let N = Double(count)
        return try MetricContext.checkNormalizable(clean: sums.clean / N, corrupt: sums.corrupt / N)
    }
}

/// The clean and corrupted metrics of a sweep, combined over its batches.
struct Summary {
    var metric: PatchingMetric
    var cleanMetric = 0.0, corruptMetric = 0.0, cleanLogitDiff = 0.0, corruptLogitDiff = 0.0

    init(metric: PatchingMetric) { self.metric = metric }

    init(_ context: MetricContext, metric: PatchingMetric) {
        self.metric = metric
        add(context, weight: 1)
    }

    mutating func add(_ c: MetricContext, weight: Double) {
        cleanMetric += weight * c.cleanMetric
        corruptMetric += weight * c.corruptMetric
        cleanLogitDiff += weight * c.cleanLogitDiff
        corruptLogitDiff += weight * c.corruptLogitDiff
    }

    /// The normalised metric: exactly 1 and 0 for the clean and corrupted runs.
    mutating func normalized(_ n: (clean: Double, corrupt: Double)) {
        (cleanLogitDiff, corruptLogitDiff, cleanMetric, corruptMetric) = (n.clean, n.corrupt, 1, 0)
    }

    func result(_ act: String, axes: [String], shape: [Int], values: [Double]) -> PatchingResult {
        PatchingResult(act: act, axes: axes, values: Tensor(shape: shape, data: values.map { Float($0) }), metric: metric,
                       cleanMetric: cleanMetric, corruptMetric: corruptMetric,
                       cleanLogitDiff: cleanLogitDiff, corruptLogitDiff: corruptLogitDiff)
    }
}
