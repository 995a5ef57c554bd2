import Mechanic

extension PatchingRun {
    /// TransformerLens's `get_act_patch_<kind>` (and the kinds Mechanic adds): the metric after
    /// each patch of the family, shaped as `kind.shape(config, positions:)`.
    public func run(_ kind: ActPatchKind, neuronPositions: ActPatchKind.NeuronPositions = .all,
                    engine: PatchEngine = .fast) throws -> PatchingResult {
        let c = model.config
        try kind.checkSupported(c)
        let values = try stackComponents(kind) { part in
            let sites = part.sites(c, positions: positions, neuronPositions: neuronPositions)
            let metric = try evaluate(sites.map(\.site), engine: engine)
            return Tensor(shape: part.shape(c, positions: positions), data: metric.map { Float($0) })
        }
        return result(kind.rawValue, axes: kind.axes(), values: values)
    }

    /// `body(kind)` for a single kind; for an `_every` kind, its parts stacked as TransformerLens
    /// stacks them (the by-position pattern moved to `[layer, pos, head]`, grouped-query k/v
    /// zero-padded to `n_heads`).
    func stackComponents(_ kind: ActPatchKind, _ body: (ActPatchKind) throws -> Tensor) throws -> Tensor {
        guard let parts = kind.components else { return try body(kind) }
        let H = model.config.nHeads
        return Tensor.stack(try parts.map { part -> Tensor in
            var t = try body(part)
            if part == .attnHeadPatternByPos { t = t.permuted([0, 2, 1]) }   // [layer, head, pos] -> [layer, pos, head]
            if t.shape.last != H, kind != .blockEvery { t = Self.padLastAxis(t, to: H) }  // k, v of grouped-query models
            return t
        })
    }

    /// A result with this run's clean/corrupted metrics.
    func result(_ act: String, axes: [String], values: Tensor) -> PatchingResult {
        PatchingResult(act: act, axes: axes, values: values, metric: context.metric,
                       cleanMetric: context.cleanMetric, corruptMetric: context.corruptMetric,
                       cleanLogitDiff: context.cleanLogitDiff, corruptLogitDiff: context.corruptLogitDiff)
    }

    /// Zero-pads the last axis to `n` (TransformerLens's `torch.nn.functional.pad(x, (0, n - k))`).
    static func padLastAxis(_ t: Tensor, to n: Int) -> Tensor {
        let k = t.shape.last ?? 0
        let rows = k == 0 ? 0 : t.count / k
        var data = [Float](repeating: 0, count: rows * n)
        for r in 0..<rows { for j in 0..<min(k, n) { data[r * n + j] = t.data[r * k + j] } }
        return Tensor(shape: Array(t.shape.dropLast()) + [n], data: data)
    }
}
