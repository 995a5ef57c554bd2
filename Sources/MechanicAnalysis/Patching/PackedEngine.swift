import Mechanic

/// The packed engine: every patch of one hook kind, at every layer, in one pass over the layers.
///
/// A patch at layer l and position p (its first patched position) cannot change anything below
/// l or before p. So each (variant, pair) row is computed only at positions p..<P and only from
/// layer l on, attending to the target run's cached keys and values for positions before p; a
/// row joins the pass at its layer, entering the block at the patched hook point (earlier
/// values of that block come from the target's cache); rows of different lengths are packed
/// token after token, so the per-token work of every layer (norms, projections, MLP) is one
/// matrix product over all live rows, and the weights of a layer are read once per pass;
/// logits are computed only at the final position (only the answer and wrong columns for the
/// logit difference). Head-level patches recompute only the heads they touch (`PackedHeads.swift`).
extension PatchingRun {
    /// Metric values of the sites (all of one hook kind `kind`, e.g. `.z`), in order.
    func packedGroup(kind: HookKind, stage: PackedStage, sites: [PatchSite]) throws -> [Double] {
        let c = model.config
        let N = pairs.count, P = positions
        let keyKind: HookKind = c.positionalEmbedding == .rotary ? .rotK : .k
        let firstLayer = sites.map(\.layer).min() ?? 0
        // Everything the pass reads from the caches, cached in one go.
        var names: [String] = []
        for l in firstLayer..<c.nLayers { names += [keyKind.name(layer: l), HookKind.v.name(layer: l)] }
        for l in Set(sites.map(\.layer)) {
            names += ([.residPre, kind] + presetKinds(stage)).map { $0.name(layer: l) }
        }
        names.append(HookKind.residPost.name(layer: c.nLayers - 1))   // the target's final residual, for no-op patches
        try ensure(names)

        // Each (patch, pair) row starts at the first position where the patch changes a value;
        // a patch that changes nothing leaves the target run as it is.
        var rows: [PackedRow] = [], unchanged: [PackedRow] = []
        for (v, site) in sites.enumerated() {
            let starts = try patchStarts(site, isPattern: kind == .pattern)
            for n in 0..<N {
                let row = PackedRow(variant: v, pair: n, layer: site.layer, start: starts[n] ?? P - 1, selection: site.selection)
                if starts[n] == nil { unchanged.append(row) } else { rows.append(row) }
            }
        }
        rows.sort { ($0.layer, $0.variant, $0.pair) < ($1.layer, $1.variant, $1.pair) }
        var sums = [Double](repeating: 0, count: sites.count)
        if !unchanged.isEmpty {
            let final = try targetActivation(HookKind.residPost.name(layer: c.nLayers - 1))   // [pairs, P, d_model]
            let last = PackedLayout(unchanged, positions: P).pack(final)   // rows start at P − 1: [rows, d_model]
            score(Kernels.norm(last, c, weight: model.weights.lnFinalW, bias: model.weights.lnFinalB), rows: unchanged, into: &sums)
            try advance(rows: unchanged.count)   // done, for the progress
        }
        let block = PackedBlock(model: model, rotary: RotaryTables.rotating(c))   // one per sweep: it keeps the layers' projections
        var chunk: [PackedRow] = []
        var tokens = 0
        for row in rows {
            if tokens + (P - row.start) > maxBatchTokens, !chunk.isEmpty {
                try packedPass(chunk, block: block, kind: kind, stage: stage, keyKind: keyKind, into: &sums)
                try advance(rows: chunk.count)
                chunk = []
                tokens = 0
            }
            chunk.append(row)
            tokens += P - row.start
        }
        if !chunk.isEmpty { try packedPass(chunk, block: block, kind: kind, stage: stage, keyKind: keyKind, into: &sums) }
        try advance(rows: chunk.count)   // progress; stops here when cancelled
        return sums.map { context.finish($0 / Double(N)) }
    }

    /// Target activations a row entering at `stage` takes instead of computing them: the
    /// values before the patched hook point, z and attn_out for the heads a head patch does not
    /// touch, resid_mid and mlp_out for the tokens whose MLP input the patch does not change.
    private func presetKinds(_ stage: PackedStage) -> [HookKind] {
        let c = model.config
        let before: HookKind = c.parallelAttnMLP ? .attnOut : .residMid
        let mlp: [HookKind] = c.attnOnly ? [] : [.mlpOut] + (c.parallelAttnMLP ? [] : [.residMid])
        switch stage {
        case .residPre: return []
        case .qkv: return [.q, .k, .v, .z, .attnOut] + mlp
        case .pattern: return [.pattern, .z, .attnOut] + mlp
        case .z: return [.z, .attnOut] + mlp
        case .result: return [.result] + mlp
        case .attnOut: return [.attnOut] + mlp
        case .residMid: return [.residMid, .mlpOut]
        case .post: return [.post, before, .mlpOut]
        case .mlpOut: return [.mlpOut, before]
        case .residPost: return [.residPost]
        }
    }

    /// One pass over the layers for `rows` (sorted by layer); adds each row's raw metric to `sums[variant]`.
    private func packedPass(_ rows: [PackedRow], block: PackedBlock, kind: HookKind, stage: PackedStage, keyKind: HookKind,
                            into sums: inout [Double]) throws {
        let c = model.config
        block.weights.reserve(tokens: rows.reduce(0) { $0 + positions - $1.start }, rows: rows.count, positions: positions, c)
        var active = PackedLayout([], positions: positions)
        var x = Tensor(zeros: [0, c.dModel])
        var finals = Tensor(zeros: [0, c.dModel])   // resid_post at the final token of rows done early
        var finalRows: [PackedRow] = []
        let L = c.nLayers
        for l in (rows.first?.layer ?? 0)..<L {
            let keys = try targetActivation(keyKind.name(layer: l)), values = try targetActivation(HookKind.v.name(layer: l))
            let entering = rows.filter { $0.layer == l }
            // The last block of rows that are already running: only their final tokens matter.
            if l == L - 1, !active.rows.isEmpty {
                finals = try block.runFinal(l, active, residPre: x, prefixKeys: keys, prefixValues: values)
                finalRows = active.rows
                active = PackedLayout([], positions: positions)
                x = Tensor(zeros: [0, c.dModel])
            }
            if entering.isEmpty {
                if !active.rows.isEmpty { x = try block.run(l, active, residPre: x, entry: PackedEntry(), prefixKeys: keys, prefixValues: values) }
                continue
            }
            let layout = PackedLayout(entering, positions: positions)
            let hook = kind.name(layer: l)
            let source = try sourceActivation(hook)
            let fullRowShape = Array(try targetActivation(hook).shape.dropFirst())
            let isPattern = kind == .pattern
            var input = layout.pack(try targetActivation(HookKind.residPre.name(layer: l)))   // [tokens, d_model]
            if stage == .residPre {
                // Patched inputs join the live rows: one block for all.
                try layout.patch(&input, fullRowShape: fullRowShape, source: source, isPattern: false)
                active = active.appending(layout)
                x = concatRows(x, input)
                x = try block.run(l, active, residPre: x, entry: PackedEntry(), prefixKeys: keys, prefixValues: values)
                continue
            }
            if !active.rows.isEmpty { x = try block.run(l, active, residPre: x, entry: PackedEntry(), prefixKeys: keys, prefixValues: values) }
            var entry = PackedEntry(stage: stage, hookKind: kind)
            for k in presetKinds(stage) {
                let t = try targetActivation(k.name(layer: l))
                entry.preset[k] = k == .pattern ? layout.packPattern(t) : layout.pack(t)
            }
            entry.patch = { act in try layout.patch(&act, fullRowShape: fullRowShape, source: source, isPattern: isPattern) }
            let out = try block.run(l, layout, residPre: input, entry: entry, prefixKeys: keys, prefixValues: values)
            input = Tensor(zeros: [0])
            active = active.appending(layout)
            x = concatRows(x, out)
        }
        // Final norm and unembedding at each row's final position.
        let resid = concatRows(finals, active.rows.isEmpty ? Tensor(zeros: [0, c.dModel]) : active.lastTokens(x))   // [rows, d_model]
        let last = Kernels.norm(resid, c, weight: model.weights.lnFinalW, bias: model.weights.lnFinalB)
        score(last, rows: finalRows + active.rows, into: &sums)
    }

    /// Adds the raw metric of each row's final normalised residual (`last [rows, d_model]`) to
    /// `sums[variant]`. The logit difference reads only the answer and wrong columns of W_U.
    func score(_ last: Tensor, rows: [PackedRow], into sums: inout [Double]) {
        let V = model.config.dVocab
        let W_U = model.weights.W_U, b_U = model.weights.b_U   // [d_model, d_vocab], [d_vocab]
        guard context.metric == .logitDiff || context.metric == .normalizedLogitDiff else {
            let logits = Kernels.unembed(last, W_U: W_U, b_U: b_U)   // [rows, d_vocab]
            logits.data.withUnsafeBufferPointer { p in
                guard let base = p.baseAddress else { return }
                for (r, row) in rows.enumerated() { sums[row.variant] += context.raw(base + r * V, dVocab: V, pair: row.pair) }
            }
            return
        }
        let ids = Array(Set(context.answers + context.wrongs)).sorted()
        var column: [Int: Int] = [:]
        for (j, id) in ids.enumerated() { column[id] = j }
        let n = ids.count
        let logits = Kernels.unembed(last, W_U: W_U, b_U: b_U, columns: ids)   // [rows, ids]
        for (r, row) in rows.enumerated() {
            guard let a = column[context.answers[row.pair]], let w = column[context.wrongs[row.pair]] else { continue }
            sums[row.variant] += Double(logits.data[r * n + a]) - Double(logits.data[r * n + w])
        }
    }
}
