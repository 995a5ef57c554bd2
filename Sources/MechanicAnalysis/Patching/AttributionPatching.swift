import Foundation
import Mechanic

/// How attribution patching estimates a patch's effect.
public enum AttributionMethod: String, Sendable, CaseIterable {
    /// Linear (Nanda 2023; AtP, Kramár et al. 2024): `(source − target activation) · d metric / d activation`
    /// at the target run, summed over the patched elements and averaged over the pairs.
    case atp
    /// AtP*: as `.atp`, except that query and key patches recompute the patched head's attention
    /// pattern exactly and linearise from the pattern on (`Σ (pattern' − pattern) · d metric / d pattern`),
    /// which fixes the estimate where the softmax saturates.
    case atpStar = "atp*"
}

/// One component of an attribution sweep, re-run exactly.
public struct AttributionCheck: Sendable {
    /// The single kind the component belongs to (a part of an `_every` kind) and its index in
    /// that kind's result shape.
    public let kind: ActPatchKind
    public let index: [Int]
    public let site: PatchSite
    /// Estimated and exact change of the metric (patched − target run).
    public let estimate: Double
    public let exact: Double
}

/// Attribution patching of one kind: an estimate for every component from one forward and one
/// backward pass, in the shape (and axis order) of `get_act_patch_<kind>`.
public struct AttributionPatchingResult: Sendable {
    public let act: String
    public let axes: [String]
    public let method: AttributionMethod
    public let metric: PatchingMetric
    /// Estimated change of the metric when each component alone is patched.
    public let estimates: Tensor
    /// The metric of the run patched into (corrupted for patching, clean for ablations).
    public let targetMetric: Double
    public let cleanMetric: Double
    public let corruptMetric: Double
    /// Mean logit differences of the clean and corrupted runs, whatever the metric.
    public let cleanLogitDiff: Double
    public let corruptLogitDiff: Double
    /// The components with the largest |estimate|, each patched exactly, largest first.
    public let checks: [AttributionCheck]

    /// Pearson's r between the checked components' estimated and exact changes: how well the
    /// linear estimate ranks what exact patching finds. Nil with fewer than two checks or when
    /// either side does not vary.
    public var exactCorrelation: Double? { pearson(checks.map(\.estimate), checks.map(\.exact)) }
}

/// Pearson's correlation coefficient of two equally long samples (nil when undefined).
public func pearson(_ x: [Double], _ y: [Double]) -> Double? {
    guard x.count == y.count, x.count >= 2 else { return nil }
    let n = Double(x.count)
    let mx = x.reduce(0, +) / n, my = y.reduce(0, +) / n
    var sxy = 0.0, sxx = 0.0, syy = 0.0
    for (a, b) in zip(x, y) { sxy += (a - mx) * (b - my); sxx += (a - mx) * (a - mx); syy += (b - my) * (b - my) }
    guard sxx > 0, syy > 0 else { return nil }
    return max(-1, min(1, sxy / (sxx * syy).squareRoot()))
}

extension PatchingRun {
    /// The target run's forward and the backward of the metric: `d metric / d activation` for
    /// every hook point (`HookedTransformer.gradients`).
    public func metricGradients() throws -> Gradients {
        let g = try model.gradients(target) { try context.gradient($0) }
        presetTarget(g.activations)
        return g
    }

    /// The metric of the run patched into (what every patch's effect is measured from).
    public var targetMetric: Double {
        if case .denoise = mode { return context.corruptMetric }
        return context.cleanMetric
    }

    /// Attribution patching of every component of `kind` at once, plus the exact patching
    /// effect of the `topK` components with the largest estimated effect.
    public func attribution(_ kind: ActPatchKind, method: AttributionMethod = .atpStar,
                            neuronPositions: ActPatchKind.NeuronPositions = .all, topK: Int = 10,
                            engine: PatchEngine = .fast, gradients: Gradients? = nil) throws -> AttributionPatchingResult {
        try kind.checkSupported(model.config)
        let g = try gradients ?? metricGradients()
        let raw = try rawEstimates(kind, method: method, neuronPositions: neuronPositions, gradients: g)
        return try Self.attributionResult(kind, method: method, raw: raw, config: model.config, positions: positions,
                                          neuronPositions: neuronPositions, topK: topK, metric: context.metric, target: targetMetric,
                                          runs: [context.cleanMetric, context.corruptMetric, context.cleanLogitDiff, context.corruptLogitDiff]) {
            try evaluate($0, engine: engine)
        }
    }

    /// The components of a kind in estimate order: each part of an `_every` kind, its sites in order.
    static func attributionSites(_ kind: ActPatchKind, _ c: ModelConfig, positions: Int,
                                 neuronPositions: ActPatchKind.NeuronPositions) -> [(kind: ActPatchKind, index: Int, site: PatchSite)] {
        (kind.components ?? [kind]).flatMap { part in
            part.sites(c, positions: positions, neuronPositions: neuronPositions).map { (part, $0.index, $0.site) }
        }
    }

    /// Estimates of every component of `kind`, in `attributionSites` order (unstacked).
    func rawEstimates(_ kind: ActPatchKind, method: AttributionMethod, neuronPositions: ActPatchKind.NeuronPositions,
                      gradients g: Gradients) throws -> [Double] {
        try estimates(Self.attributionSites(kind, model.config, positions: positions, neuronPositions: neuronPositions).map(\.site),
                      method: method, gradients: g)
    }

    /// Stacks raw estimates into the kind's shape and checks the top components exactly. `runs`:
    /// the clean and corrupted metrics, then the clean and corrupted logit differences.
    static func attributionResult(_ kind: ActPatchKind, method: AttributionMethod, raw: [Double], config c: ModelConfig, positions: Int,
                                  neuronPositions: ActPatchKind.NeuronPositions, topK: Int, metric: PatchingMetric,
                                  target: Double, runs: [Double],
                                  exact: ([PatchSite]) throws -> [Double]) throws -> AttributionPatchingResult {
        let sites = attributionSites(kind, c, positions: positions, neuronPositions: neuronPositions)
        var offset = 0
        let stacked = try stackComponents(kind, config: c, positions: positions) { part in
            let n = part.sites(c, positions: positions, neuronPositions: neuronPositions).count
            defer { offset += n }
            return Array(raw[offset..<(offset + n)])
        }
        let order = topOrder(raw, topK)
        let values = try exact(order.map { sites[$0].site })
        let checks = zip(order, values).map { i, value in
            AttributionCheck(kind: sites[i].kind, index: unflatten(sites[i].index, shape: sites[i].kind.shape(c, positions: positions)),
                             site: sites[i].site, estimate: raw[i], exact: value - target)
        }
        return AttributionPatchingResult(act: kind.rawValue, axes: kind.axes(), method: method, metric: metric,
                                         estimates: Tensor(shape: kind.shape(c, positions: positions), data: stacked.map { Float($0) }),
                                         targetMetric: target, cleanMetric: runs[0], corruptMetric: runs[1],
                                         cleanLogitDiff: runs[2], corruptLogitDiff: runs[3], checks: checks)
    }

    /// The indices of the `topK` largest |estimates|, largest first (ties in index order).
    static func topOrder(_ raw: [Double], _ topK: Int) -> [Int] {
        Array(raw.indices.sorted { abs(raw[$0]) != abs(raw[$1]) ? abs(raw[$0]) > abs(raw[$1]) : $0 < $1 }.prefix(max(topK, 0)))
    }

    /// Attribution patching of several kinds from one gradient pass, with the activations they
    /// need cached in one clean and one corrupted forward.
    public func attribution(_ kinds: [ActPatchKind], method: AttributionMethod = .atpStar,
                            neuronPositions: ActPatchKind.NeuronPositions = .all, topK: Int = 10,
                            engine: PatchEngine = .fast) throws -> [AttributionPatchingResult] {
        let c = model.config
        for kind in kinds { try kind.checkSupported(c) }
        let rotary = c.positionalEmbedding == .rotary
        var names: [String] = []
        for kind in kinds {
            for part in kind.components ?? [kind] {
                var acts = [part.act]
                if method == .atpStar, part.act == "q" || part.act == "k" { acts = [rotary ? "rot_q" : "q", rotary ? "rot_k" : "k", "pattern"] }
                for l in 0..<c.nLayers { names += acts.map { actName($0, layer: l) } }
            }
        }
        let g = try metricGradients()
        try ensure(names)
        return try kinds.map { try attribution($0, method: method, neuronPositions: neuronPositions, topK: topK, engine: engine, gradients: g) }
    }

    /// Estimated metric change of each site patched alone.
    public func estimates(_ sites: [PatchSite], method: AttributionMethod = .atpStar, gradients g: Gradients) throws -> [Double] {
        var out = [Double](repeating: 0, count: sites.count)
        var byHook: [String: [Int]] = [:]
        for (i, s) in sites.enumerated() { byHook[s.hook, default: []].append(i) }
        for (hook, idx) in byHook {
            let kind = HookKind(name: hook)
            if method == .atpStar, kind == .q || kind == .k {
                let recompute = try AttentionRecompute(run: self, layer: sites[idx[0]].layer, gradients: g)
                for i in idx { out[i] = try recompute.effect(of: sites[i], keys: kind == .k) }
                continue
            }
            let targetAct = try targetActivation(hook)                   // [pairs, ...]
            let source = try sourceActivation(hook)                       // [pairs | 1, ...] or nil (zeros)
            let grad = try gradient(hook, g)                              // [pairs, ...]
            let rowShape = Array(targetAct.shape.dropFirst())
            let per = rowShape.reduce(1, *)
            let srcRows = source?.shape[0] ?? 1
            for i in idx {
                var sum = 0.0
                for range in try sites[i].selection.ranges(shape: rowShape) {
                    for n in 0..<pairs.count {
                        let (t, s) = (n * per, (srcRows == 1 ? 0 : n) * per)
                        for e in range {
                            let delta = (source?.data[s + e] ?? 0) - targetAct.data[t + e]
                            sum += Double(delta) * Double(grad.data[t + e])
                        }
                    }
                }
                out[i] = sum
            }
        }
        return out
    }

    /// The gradient of a hook point; `hook_result` (not part of the default forward) is
    /// `d attn_out` for every head, since `attn_out = Σ_h result_h + b_O`.
    private func gradient(_ hook: String, _ g: Gradients) throws -> Tensor {
        if let t = g.gradients[hook] { return t }
        guard let name = HookName(hook), name.kind == .result, let layer = name.layer else {
            throw MechanicError.invalidArgument("attribution patching: no gradient for '\(hook)'")
        }
        let d = try g.gradients.require(actName("attn_out", layer: layer))   // [pairs, pos, d_model]
        let (N, P, D, H) = (d.shape[0], d.shape[1], d.shape[2], model.config.nHeads)
        return Tensor(shape: [N, P, H, D]) { out in                           // [pairs, pos, head, d_model]
            for t in 0..<(N * P) { for h in 0..<H { for m in 0..<D { out[(t * H + h) * D + m] = d.data[t * D + m] } } }
        }
    }

    /// Flat row-major index → multi-index in `shape`.
    static func unflatten(_ flat: Int, shape: [Int]) -> [Int] {
        var rest = flat
        var out = [Int](repeating: 0, count: shape.count)
        for axis in stride(from: shape.count - 1, through: 0, by: -1) where shape[axis] > 0 {
            out[axis] = rest % shape[axis]
            rest /= shape[axis]
        }
        return out
    }
}
