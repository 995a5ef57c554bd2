import Mechanic

extension PatchingSweep {
    /// `PatchingRun.attribution` over every pair: each batch's forward and backward give its
    /// estimates (means over its pairs, normalised with every pair's logit differences), combined
    /// by the batches' shares of the pairs; the top components are then patched exactly over
    /// every pair.
    public func attribution(_ kind: ActPatchKind, method: AttributionMethod = .atpStar,
                            neuronPositions: ActPatchKind.NeuronPositions = .all, topK: Int = 10,
                            engine: PatchEngine = .fast) throws -> AttributionPatchingResult {
        if let single { return try single.attribution(kind, method: method, neuronPositions: neuronPositions, topK: topK, engine: engine) }
        try requireUnsharded("attribution patching (its top components are patched over every pair)")
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
        let (raw, summary) = try combine(patches: 1, meanHooks: hooks) { run in
            let values = try run.rawEstimates(kind, method: method, neuronPositions: neuronPositions, gradients: try run.metricGradients())
            try progress?.advance(run.pairs.count)
            return values
        }
        let target = mode == .denoise ? summary.corruptMetric : summary.cleanMetric
        return try PatchingRun.attributionResult(kind, method: method, raw: raw, model: model, positions: positions,
                                                 neuronPositions: neuronPositions, topK: topK, metric: metric, target: target,
                                                 runs: [summary.cleanMetric, summary.corruptMetric, summary.cleanLogitDiff, summary.corruptLogitDiff]) {
            try evaluate($0, engine: engine)
        }
    }
}
