import Mechanic

extension PatchingSweep {
    /// `PatchingRun.attribution` over every pair: each batch's forward and backward give its
    /// estimates (means over its pairs, normalised with every pair's logit differences), combined
    /// by the batches' shares of the pairs; the top components are then patched exactly over
    /// every pair. A shard (`shard`) computes the estimates over every pair too — the same in
    /// every shard, so every shard picks the same components — and patches them exactly over its
    /// own pairs only: `lastAttributionPartial` holds its shares, `AttributionPartial.merge` adds them.
    public func attribution(_ kind: ActPatchKind, method: AttributionMethod = .atpStar,
                            neuronPositions: ActPatchKind.NeuronPositions = .all, topK: Int = 10,
                            engine: PatchEngine = .fast) throws -> AttributionPatchingResult {
        if let single { return try single.attribution(kind, method: method, neuronPositions: neuronPositions, topK: topK, engine: engine) }
        let c = model.config
        try kind.checkSupported(c)
        try requireOneLength(for: kind)
        var hooks = kind.hooks(c, positions: positions, neuronPositions: neuronPositions)
        if method == .atpStar, c.positionalEmbedding == .rotary {
            // AtP* scores with the rotated queries/keys: their means too.
            for h in hooks {
                guard let name = HookName(h), name.kind == .q || name.kind == .k else { continue }
                hooks.insert(HookName(name.kind == .q ? .rotQ : .rotK, layer: name.layer).name)
            }
        }
        // The gradient pass counts as one patch over every pair.
        let (raw, summary) = try combine(patches: 1, meanHooks: hooks, allPairs: true) { run in
            let values = try run.rawEstimates(kind, method: method, neuronPositions: neuronPositions, gradients: try run.metricGradients())
            try progress?.advance(run.pairs.count)
            return values
        }
        let target = mode == .denoise ? summary.corruptMetric : summary.cleanMetric
        let runs = [summary.cleanMetric, summary.corruptMetric, summary.cleanLogitDiff, summary.corruptLogitDiff]
        guard shard != nil else {
            return try PatchingRun.attributionResult(kind, method: method, raw: raw, config: model.config, positions: positions,
                                                     neuronPositions: neuronPositions, topK: topK, metric: metric, target: target,
                                                     runs: runs) { try evaluate($0, engine: engine) }
        }
        // The shard's pairs' shares of the exact metrics (zeros for a shard without pairs).
        var shares: [Double] = []
        let result = try PatchingRun.attributionResult(kind, method: method, raw: raw, config: model.config, positions: positions,
                                                       neuronPositions: neuronPositions, topK: topK, metric: metric, target: target,
                                                       runs: runs) { sites in
            try requireOneLength(for: sites)
            let values = try combine(patches: sites.count, meanHooks: Set(sites.map(\.hook))) { try $0.evaluate(sites, engine: engine) }.values
            shares = values.isEmpty ? [Double](repeating: 0, count: sites.count) : values
            return shares
        }
        lastAttributionPartial = AttributionPartial(act: kind.rawValue, method: method.rawValue, metric: metric, config: model.config,
                                                    positions: positions, neuronPositions: neuronPositions.rawValue, topK: topK,
                                                    pairs: ownedPairs.count, totalPairs: pairs.count, target: target, runs: runs,
                                                    estimates: raw, exactShares: shares)
        return result
    }
}
