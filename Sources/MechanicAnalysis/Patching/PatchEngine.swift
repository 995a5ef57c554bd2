import Mechanic

/// The ways to run a list of patches; all give the same numbers (within float tolerance).
///
/// - `.naive` is TransformerLens's `generic_activation_patch`: one full forward of the target
///   prompts per patch, logits at every position.
/// - `.batched` uses the core forward: a patch at layer l leaves every layer below l as in the
///   target run, so the patched forward starts at layer l from the cached target `resid_pre`
///   (at l + 1, from a rebuilt residual stream, for `resid_post` and `mlp_out` patches); the
///   patches of one hook point are stacked along the batch axis (row `v · pairs + n` is pair n
///   under patch v, each row patched by one hook); logits only at the final position.
/// - `.fast` (the default) is the packed engine (`PackedEngine.swift`): additionally skips the
///   positions before each patch, enters the patched block at the hook point, and runs every
///   layer's patches in one pass with ragged rows packed into single matrix products. Hook
///   points it does not handle (e.g. `ln1.hook_scale`) fall back to `.batched`.
public enum PatchEngine: String, Sendable, CaseIterable { case fast, batched, naive }

extension PatchingRun {
    /// The metric after each site is patched alone, in the order given.
    public func evaluate(_ sites: [PatchSite], engine: PatchEngine = .fast) throws -> [Double] {
        try sweep(patches: sites.count) { try evaluateSites(sites, engine: engine) }
    }

    private func evaluateSites(_ sites: [PatchSite], engine: PatchEngine) throws -> [Double] {
        var out = [Double](repeating: 0, count: sites.count)
        if engine == .fast {
            // Group by hook kind (any layer); kinds the packed engine handles go there.
            var rest: [Int] = []
            var kinds: [HookKind: [Int]] = [:]
            var kindOrder: [HookKind] = []
            for (i, s) in sites.enumerated() {
                guard let hook = HookName(s.hook), hook.layer == s.layer,
                      PackedStage(hookKind: hook.kind) != nil else { rest.append(i); continue }
                let kind = hook.kind
                if kinds[kind] == nil { kindOrder.append(kind) }
                kinds[kind, default: []].append(i)
            }
            for kind in kindOrder {
                guard let idx = kinds[kind], let stage = PackedStage(hookKind: kind) else { continue }
                let values = try packedGroup(kind: kind, stage: stage, sites: idx.map { sites[$0] })
                for (k, i) in idx.enumerated() { out[i] = values[k] }
            }
            let values = try evaluate(rest.map { sites[$0] }, engine: .batched)
            for (k, i) in rest.enumerated() { out[i] = values[k] }
            return out
        }
        // Group by hook point, keeping first-seen order.
        var order: [String] = []
        var groups: [String: [Int]] = [:]
        for (i, s) in sites.enumerated() {
            if groups[s.hook] == nil { order.append(s.hook) }
            groups[s.hook, default: []].append(i)
        }
        for hook in order {
            let idx = groups[hook] ?? []
            let layer = sites[idx[0]].layer
            let values = try engine == .batched
                ? batchedGroup(hook: hook, layer: layer, selections: idx.map { sites[$0].selection })
                : idx.map { i in
                    let value = try naive([sites[i]])
                    try advance(patches: 1)
                    return value
                }
            for (k, i) in idx.enumerated() { out[i] = values[k] }
        }
        return out
    }

    /// The metric with every site patched at once (one forward from the lowest layer).
    public func evaluate(together sites: [PatchSite]) throws -> Double {
        try sweep(patches: 1) {
            let value = try evaluateTogether(sites)
            try advance(patches: 1)
            return value
        }
    }

    private func evaluateTogether(_ sites: [PatchSite]) throws -> Double {
        guard let start = sites.map(\.layer).min() else { return context.finish(rawTargetMean()) }
        let N = pairs.count
        let base = try targetActivation(actName("resid_pre", layer: start))
        var hooks: [Hook] = []
        for (hook, group) in Dictionary(grouping: sites, by: \.hook) {
            hooks.append(try patchHook(hook, variants: [.union(group.map(\.selection))], pairs: N))
        }
        let r = try model.forward(target, options: ForwardOptions(hooks: hooks, startAtLayer: start, logits: .last), residual: base)
        return context.variants(r.logits ?? Tensor(zeros: [0]), count: 1).first ?? .nan
    }

    /// TransformerLens's procedure for a set of sites patched together: one full forward.
    func naive(_ sites: [PatchSite]) throws -> Double {
        let hooks = try Dictionary(grouping: sites, by: \.hook).map { hook, group in
            try patchHook(hook, variants: [.union(group.map(\.selection))], pairs: pairs.count)
        }
        guard let logits = try model.forward(target, options: ForwardOptions(hooks: hooks, logits: .all)).logits else { return .nan }
        return context.variants(finalPositions(logits), count: 1).first ?? .nan
    }

    /// The target run's metric (no patch).
    private func rawTargetMean() -> Double {
        if case .denoise = mode { return context.metric == .normalizedLogitDiff ? context.corruptLogitDiff : context.corruptMetric }
        return context.metric == .normalizedLogitDiff ? context.cleanLogitDiff : context.cleanMetric
    }

    /// `[rows, pos, d_vocab]` → `[rows, 1, d_vocab]` at each row's final position.
    func finalPositions(_ logits: Tensor) -> Tensor {
        let (B, P, V) = (logits.shape[0], logits.shape[1], logits.shape[2])
        var data = [Float]()
        data.reserveCapacity(B * V)
        for b in 0..<B { data += logits.data[((b * P + P - 1) * V)..<((b * P + P) * V)] }
        return Tensor(shape: [B, 1, V], data: data)
    }

    /// Patches of one hook point, batched: each chunk of variants is one forward.
    func batchedGroup(hook: String, layer l: Int, selections: [PatchSelection]) throws -> [Double] {
        let c = model.config
        let N = pairs.count
        let perChunk = max(1, maxBatchTokens / max(N * positions, 1))
        let kind = HookKind(name: hook)
        // Patches that only change resid_post of layer l: rebuild it and start one layer later.
        let rebuild = kind == .residPost || (kind == .mlpOut && !c.attnOnly)
        var out: [Double] = []
        var start = 0
        while start < selections.count {
            let chunk = Array(selections[start..<min(start + perChunk, selections.count)])
            let C = chunk.count
            let rows = try TokenBatch(ids: Array(repeating: target.ids, count: C).flatMap { $0 })
            let logits: Tensor?
            if rebuild {
                let residual = try rebuiltResidPost(hook: hook, kind: kind, layer: l, variants: chunk)
                logits = try model.forward(rows, options: ForwardOptions(startAtLayer: l + 1, logits: .last), residual: residual).logits
            } else {
                let base = try targetActivation(actName("resid_pre", layer: l))
                let hookFn = try patchHook(hook, variants: chunk, pairs: N)
                logits = try model.forward(rows, options: ForwardOptions(hooks: [hookFn], startAtLayer: l, logits: .last),
                                           residual: Self.tile(base, C)).logits
            }
            out += context.variants(logits ?? Tensor(zeros: [0]), count: C)
            start += C
            try advance(patches: C)
        }
        return out
    }

    /// `resid_post` of layer l for each variant (rows `v · pairs + n`): the target's, with the
    /// patched elements recomputed as the block does — `resid_mid + mlp_out` (sequential),
    /// `(resid_pre + attn_out) + mlp_out` (parallel) — or replaced (a `resid_post` patch).
    private func rebuiltResidPost(hook: String, kind: HookKind?, layer l: Int, variants: [PatchSelection]) throws -> Tensor {
        let c = model.config
        let post = try targetActivation(actName("resid_post", layer: l))   // [pairs, pos, d_model]
        let source = try sourceActivation(hook)
        var mid: Tensor? = nil
        if kind == .mlpOut {
            if c.parallelAttnMLP {
                mid = try targetActivation(actName("resid_pre", layer: l)) + targetActivation(actName("attn_out", layer: l))
            } else {
                mid = try targetActivation(actName("resid_mid", layer: l))
            }
        }
        let N = pairs.count
        let per = post.count / N
        var out = Self.tile(post, variants.count)   // [variants · pairs, pos, d_model]
        let ranges = try variants.map { try $0.ranges(shape: Array(post.shape.dropFirst())) }
        let srcRows = source?.shape[0] ?? 1
        out.data.withUnsafeMutableBufferPointer { o in
            for (v, rs) in ranges.enumerated() {
                for n in 0..<N {
                    let r = (v * N + n) * per, s = (srcRows == 1 ? 0 : n) * per, t = n * per
                    for rg in rs {
                        for i in rg {
                            let value = source?.data[s + i] ?? 0
                            o[r + i] = mid.map { $0.data[t + i] + value } ?? value
                        }
                    }
                }
            }
        }
        return out
    }

    /// A hook on `hook` that writes the source values into the selected elements of each row:
    /// row `v · pairs + n` gets variant v's selection from pair n's source.
    func patchHook(_ hook: String, variants: [PatchSelection], pairs N: Int) throws -> Hook {
        let source = try sourceActivation(hook)
        let rowShape = Array(try targetActivation(hook).shape.dropFirst())
        let ranges = try variants.map { try $0.ranges(shape: rowShape) }
        let srcRows = source?.shape[0] ?? 1
        return Hook(hook) { act, _ in
            let per = act.count / max(act.shape[0], 1)
            guard per == rowShape.reduce(1, *), act.shape[0] == ranges.count * N else {
                throw MechanicError.invalidArgument("patching \(hook): activation shape \(act.shape) does not match \(ranges.count) variants × \(N) pairs of \(rowShape)")
            }
            act.data.withUnsafeMutableBufferPointer { a in
                for (v, rs) in ranges.enumerated() {
                    for n in 0..<N {
                        let r = (v * N + n) * per, s = (srcRows == 1 ? 0 : n) * per
                        for rg in rs {
                            if let source {
                                for i in rg { a[r + i] = source.data[s + i] }
                            } else {
                                for i in rg { a[r + i] = 0 }
                            }
                        }
                    }
                }
            }
        }
    }

    /// `[n, ...]` repeated `times` along axis 0 → `[times · n, ...]`.
    static func tile(_ t: Tensor, _ times: Int) -> Tensor {
        var data = [Float]()
        data.reserveCapacity(t.count * times)
        for _ in 0..<times { data += t.data }
        return Tensor(shape: [t.shape[0] * times] + t.shape.dropFirst(), data: data)
    }
}
