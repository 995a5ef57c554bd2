import Mechanic

/// One shard's part of attribution patching (`PatchingSweep.attribution` with a shard): the
/// estimates of every component over *every* pair (cheap: one forward and backward per batch;
/// the same in every shard, so every shard picks the same top components), and the exact
/// metrics of those components over the shard's own pairs, each weighted by its share of all
/// pairs — the shards' shares add up to the all-pairs mean. The estimates and the model's
/// shape go with it, so `merge` rebuilds the result without the model.
public struct AttributionPartial: Codable, Sendable, Equatable {
    public var act: String
    public var method: String
    public var metric: PatchingMetric
    public var config: ModelConfig
    public var positions: Int
    public var neuronPositions: String
    public var topK: Int
    /// Pairs in this shard and in the whole run.
    public var pairs: Int
    public var totalPairs: Int
    /// The metric of the run patched into, and the clean/corrupted metrics and logit
    /// differences, over every pair.
    public var target: Double
    public var runs: [Double]
    /// Every component's estimate over every pair (`PatchingRun.attributionSites` order);
    /// kept out of the JSON payload (a float64 array of the partial file).
    public var estimates: [Double] = []
    /// The top components' exact metrics, this shard's share (`topOrder(estimates)` order).
    public var exactShares: [Double]

    enum CodingKeys: String, CodingKey {
        case act, method, metric, config, positions, neuronPositions, topK, pairs, totalPairs, target, runs, exactShares
    }

    public init(act: String, method: String, metric: PatchingMetric, config: ModelConfig, positions: Int, neuronPositions: String,
                topK: Int, pairs: Int, totalPairs: Int, target: Double, runs: [Double], estimates: [Double], exactShares: [Double]) {
        (self.act, self.method, self.metric, self.config, self.positions) = (act, method, metric, config, positions)
        (self.neuronPositions, self.topK, self.pairs, self.totalPairs) = (neuronPositions, topK, pairs, totalPairs)
        (self.target, self.runs, self.estimates, self.exactShares) = (target, runs, estimates, exactShares)
    }

    /// The all-pairs attribution result of the shards' partials (any order; `ShardMerge.check`
    /// first). Refuses partials whose estimates pick different components or differ beyond
    /// float32 rounding (shards that computed on different arithmetic), or that miss pairs.
    public static func merge(_ parts: [AttributionPartial]) throws -> AttributionPatchingResult {
        guard let first = parts.first else { throw ShardError.badSpec("no partials to merge") }
        guard let kind = ActPatchKind(rawValue: first.act), let method = AttributionMethod(rawValue: first.method),
              let neuronPositions = ActPatchKind.NeuronPositions(rawValue: first.neuronPositions), first.runs.count == 4 else {
            throw ShardError.unsupported("the partials hold an attribution of \(first.act) (\(first.method)) that this version does not know")
        }
        let order = PatchingRun.topOrder(first.estimates, first.topK)
        let scale = first.estimates.map(abs).max() ?? 0
        var exact = [Double](repeating: 0, count: order.count)
        var pairs = 0
        for p in parts {
            guard p.act == first.act, p.method == first.method, p.metric == first.metric, p.config == first.config,
                  p.positions == first.positions, p.neuronPositions == first.neuronPositions, p.topK == first.topK,
                  p.totalPairs == first.totalPairs, p.estimates.count == first.estimates.count, p.exactShares.count == order.count else {
                throw ShardError.unsupported("the partials hold different attributions (\(first.act) \(first.method) vs \(p.act) \(p.method))")
            }
            let worst = zip(p.estimates, first.estimates).map { abs($0 - $1) }.max() ?? 0
            guard PatchingRun.topOrder(p.estimates, p.topK) == order, worst <= 1e-5 + 1e-4 * scale else {
                throw ShardError.unsupported("the shards' estimates over every pair differ (by up to \(worst)), so they checked different components; run every shard on the same kind of machine")
            }
            for i in exact.indices { exact[i] += p.exactShares[i] }
            pairs += p.pairs
        }
        guard pairs == first.totalPairs else { throw ShardError.unsupported("the partials hold \(pairs) of \(first.totalPairs) pairs") }
        return try PatchingRun.attributionResult(kind, method: method, raw: first.estimates, config: first.config, positions: first.positions,
                                                 neuronPositions: neuronPositions, topK: first.topK, metric: first.metric,
                                                 target: first.target, runs: first.runs) { sites in
            guard sites.count == exact.count else { throw ShardError.unsupported("the partials checked \(exact.count) components, not \(sites.count)") }
            return exact
        }
    }
}
