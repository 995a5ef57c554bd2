import Mechanic

extension PatchingRun {
    /// TransformerLens's `get_act_patch_<kind>` (and the kinds Mechanic adds): the metric after
    /// each patch of the family, shaped as `kind.shape(config, positions:)`.
    public func run(_ kind: ActPatchKind, neuronPositions: ActPatchKind.NeuronPositions = .all,
                    engine: PatchEngine = .fast) throws -> PatchingResult {
        let values = try values(kind, neuronPositions: neuronPositions, engine: engine)
        return result(kind.rawValue, axes: kind.axes(),
                      values: Tensor(shape: kind.shape(model.config, positions: positions), data: values.map { Float($0) }))
    }

    /// `run(kind)`'s values in double precision, row-major in `kind.shape(config, positions:)`.
    func values(_ kind: ActPatchKind, neuronPositions: ActPatchKind.NeuronPositions = .all,
                engine: PatchEngine = .fast) throws -> [Double] {
        let c = model.config
        try kind.checkSupported(c)
        return try sweep(patches: kind.patchCount(c, positions: positions, neuronPositions: neuronPositions)) {
            try stackComponents(kind) { part in
                try evaluate(part.sites(c, positions: positions, neuronPositions: neuronPositions).map(\.site), engine: engine)
            }
        }
    }

    /// `body(kind)` for a single kind; for an `_every` kind, its parts' values stacked as
    /// TransformerLens stacks them (the by-position pattern moved to `[layer, pos, head]`,
    /// grouped-query k/v zero-padded to `n_heads`). Values are row-major in each part's shape.
    func stackComponents(_ kind: ActPatchKind, _ body: (ActPatchKind) throws -> [Double]) throws -> [Double] {
        try Self.stackComponents(kind, config: model.config, positions: positions, body)
    }

    static func stackComponents(_ kind: ActPatchKind, config c: ModelConfig, positions: Int,
                                _ body: (ActPatchKind) throws -> [Double]) throws -> [Double] {
        guard let parts = kind.components else { return try body(kind) }
        var stacked: [Double] = []
        for part in parts {
            var v = try body(part)
            var shape = part.shape(c, positions: positions)
            if part == .attnHeadPatternByPos {   // [layer, head, pos] -> [layer, pos, head]
                v = Self.swapLastAxes(v, shape: shape)
                shape.swapAt(1, 2)
            }
            if shape.last != c.nHeads, kind != .blockEvery { v = Self.padLastAxis(v, from: shape.last ?? 0, to: c.nHeads) }  // k, v of grouped-query models
            stacked += v
        }
        return stacked
    }

    /// A result with this run's clean/corrupted metrics.
    func result(_ act: String, axes: [String], values: Tensor) -> PatchingResult {
        PatchingResult(act: act, axes: axes, values: values, metric: context.metric,
                       cleanMetric: context.cleanMetric, corruptMetric: context.corruptMetric,
                       cleanLogitDiff: context.cleanLogitDiff, corruptLogitDiff: context.corruptLogitDiff)
    }

    /// Zero-pads the last axis from `k` to `n` (TransformerLens's `torch.nn.functional.pad(x, (0, n - k))`).
    static func padLastAxis(_ v: [Double], from k: Int, to n: Int) -> [Double] {
        let rows = k == 0 ? 0 : v.count / k
        var out = [Double](repeating: 0, count: rows * n)
        for r in 0..<rows { for j in 0..<min(k, n) { out[r * n + j] = v[r * k + j] } }
        return out
    }

    /// `[a, b, c]` → `[a, c, b]`, row-major.
    static func swapLastAxes(_ v: [Double], shape: [Int]) -> [Double] {
        let (A, B, C) = (shape[0], shape[1], shape[2])
        var out = [Double](repeating: 0, count: v.count)
        for a in 0..<A { for b in 0..<B { for c in 0..<C { out[(a * C + c) * B + b] = v[(a * B + b) * C + c] } } }
        return out
    }
}

extension ActPatchKind {
    /// Patches one run of the kind makes (every stacked kind's, for an `_every` kind).
    func patchCount(_ c: ModelConfig, positions: Int, neuronPositions: NeuronPositions = .all) -> Int {
        if let parts = components { return parts.reduce(0) { $0 + $1.patchCount(c, positions: positions) } }
        return sites(c, positions: positions, neuronPositions: neuronPositions).count
    }

    /// The hook points the kind patches (whose values a mean ablation needs).
    func hooks(_ c: ModelConfig, positions: Int, neuronPositions: NeuronPositions = .all) -> Set<String> {
        if let parts = components { return parts.reduce(into: []) { $0.formUnion($1.hooks(c, positions: positions)) } }
        return Set(sites(c, positions: positions, neuronPositions: neuronPositions).map(\.site.hook))
    }
}
