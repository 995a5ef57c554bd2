import Mechanic

/// Where a path ends: one input (query, key or value) of a receiver head, or the logits.
/// For keys and values of grouped-query models `head` is the key/value head.
public enum PathReceiver: Hashable, Sendable, CustomStringConvertible {
    public enum Input: String, Sendable, CaseIterable { case q, k, v }
    case head(HeadIndex, Input)
    case logits

    public var description: String {
        switch self {
        case let .head(h, input): return "\(h):\(input.rawValue)"
        case .logits: return "logits"
        }
    }
}

/// Path patching (Wang et al. 2022, "Interpretability in the Wild", the 3-run freeze/patch
/// procedure, as ARENA implements it): the effect of sender heads on the receivers through the
/// direct paths only.
///
/// 1. The clean and corrupted runs are cached (the run's caches are reused).
/// 2. *Sender run*: the clean prompt, with each sender head's `hook_z` set to its corrupted
///    value and every other head's `hook_z` frozen at its clean value (MLPs and layer norms are
///    recomputed unless `freezeMLPs`, which also freezes every `hook_mlp_out` at its clean
///    value). The receivers' `hook_q`/`hook_k`/`hook_v` are recorded — or, when the receiver is
///    the logits, the sender run's own final logits are the answer (the direct path).
/// 3. *Receiver run*: the clean prompt with only the receivers' q/k/v replaced by the recorded
///    values, everything else free; its metric is the result.
///
/// So the base is the clean run and the senders carry corrupted values (noising, as in the
/// paper): with the normalised logit difference 1 means "no effect", 0 "as corrupted". A sender
/// cannot reach a receiver in its own or an earlier layer; such paths give the clean metric.
/// With `freezeMLPs` and the logits as receiver the result is the sender's direct effect.
extension PatchingMode {
    /// What path patching does, in words. It noises: the base is the clean run and the senders
    /// carry corrupted values — never "clean → corrupted".
    public static let pathPatchingDescription =
        "path patching: the senders' corrupted outputs into the clean run (noising), through the direct paths only"

    /// The description of a run: `pathPatchingDescription` for path patching, else `description`.
    public func description(pathPatching: Bool) -> String { pathPatching ? Self.pathPatchingDescription : description }
}

extension PatchingRun {
    /// The metric after path patching `senders` (together) into `receivers` (the logits when empty).
    public func pathPatch(senders: [HeadIndex], receivers: [PathReceiver], freezeMLPs: Bool = false) throws -> Double {
        guard let v = try pathPatch(senderSets: [senders], receivers: receivers, freezeMLPs: freezeMLPs).first else { return .nan }
        return v
    }

    /// `pathPatch(senders:receivers:)` as a rank-0 result named `path`.
    public func pathPatchResult(senders: [HeadIndex], receivers: [PathReceiver], freezeMLPs: Bool = false) throws -> PatchingResult {
        let value = try pathPatch(senders: senders, receivers: receivers, freezeMLPs: freezeMLPs)
        return result("path", axes: [], values: Tensor(shape: [], data: [Float(value)]))
    }

    /// Each head alone as the sender: `[layer, head]`.
    public func pathPatchEachHead(receivers: [PathReceiver], freezeMLPs: Bool = false) throws -> PatchingResult {
        let c = model.config
        let sets = (0..<c.nLayers).flatMap { l in (0..<c.nHeads).map { [HeadIndex(layer: l, head: $0)] } }
        let values = try pathPatch(senderSets: sets, receivers: receivers, freezeMLPs: freezeMLPs)
        let name = "path:" + (receivers.isEmpty ? "logits" : receivers.map(\.description).joined(separator: ","))
        return result(name, axes: ["layer", "head"], values: Tensor(shape: [c.nLayers, c.nHeads], data: values.map { Float($0) }))
    }

    /// One metric value per sender set; the sets are batched along the batch axis.
    public func pathPatch(senderSets: [[HeadIndex]], receivers rawReceivers: [PathReceiver], freezeMLPs: Bool = false) throws -> [Double] {
        try sweep(patches: senderSets.count) { try pathPatchSets(senderSets, receivers: rawReceivers, freezeMLPs: freezeMLPs) }
    }

    private func pathPatchSets(_ senderSets: [[HeadIndex]], receivers rawReceivers: [PathReceiver], freezeMLPs: Bool) throws -> [Double] {
        let c = model.config
        let receivers = rawReceivers.filter { $0 != .logits }
        for s in senderSets.flatMap({ $0 }) where !(0..<c.nLayers).contains(s.layer) || !(0..<c.nHeads).contains(s.head) {
            throw MechanicError.invalidArgument("sender \(s) does not exist (the model has \(c.nLayers) layers of \(c.nHeads) heads)")
        }
        for case let .head(h, input) in receivers {
            let heads = input == .q ? c.nHeads : c.nKeyValueHeads
            guard (0..<c.nLayers).contains(h.layer), (0..<heads).contains(h.head) else {
                throw MechanicError.invalidArgument("receiver \(h):\(input.rawValue) does not exist (the model has \(c.nLayers) layers of \(heads) \(input == .q ? "query" : "key/value") heads)")
            }
        }
        if !receivers.isEmpty, receivers.count != rawReceivers.count {
            throw MechanicError.invalidArgument("path patching takes either head receivers or the logits, not both")
        }
        for s in senderSets where s.isEmpty { throw MechanicError.emptyInput("path patching needs at least one sender head") }
        let names = (0..<c.nLayers).flatMap { l in
            [actName("z", layer: l), actName("resid_pre", layer: l)] + (freezeMLPs && !c.attnOnly ? [actName("mlp_out", layer: l)] : [])
                + PathReceiver.Input.allCases.map { actName($0.rawValue, layer: l) }
        }
        try ensure(names)

        var out = [Double](repeating: .nan, count: senderSets.count)
        // Group by the lowest sender layer: nothing below it differs from the clean run.
        let groups = Dictionary(grouping: senderSets.indices, by: { senderSets[$0].map(\.layer).min() ?? 0 })
        let perChunk = max(1, maxBatchTokens / max(pairs.count * positions, 1))
        for (start, indices) in groups.sorted(by: { $0.key < $1.key }) {
            var i = 0
            while i < indices.count {
                let chunk = Array(indices[i..<min(i + perChunk, indices.count)])
                let values = try pathChunk(chunk.map { senderSets[$0] }, start: start, receivers: receivers, freezeMLPs: freezeMLPs)
                for (k, idx) in chunk.enumerated() { out[idx] = values[k] }
                i += chunk.count
                try advance(patches: chunk.count)
            }
        }
        return out
    }

    /// Sender run (and receiver run) for variants whose senders all sit at layer ≥ `start`.
    private func pathChunk(_ sets: [[HeadIndex]], start: Int, receivers: [PathReceiver], freezeMLPs: Bool) throws -> [Double] {
        let c = model.config
        let N = pairs.count
        let C = sets.count
        let rows = try TokenBatch(ids: Array(repeating: clean.ids, count: C).flatMap { $0 })
        func cleanAct(_ name: String) throws -> Tensor { try cleanActivation(name) }

        // Sender run: every head's z frozen at clean except the senders (corrupted).
        var hooks: [Hook] = []
        for l in start..<c.nLayers {
            let name = actName("z", layer: l)
            let cleanZ = try cleanAct(name), corruptZ = try corruptActivation(name)   // [pairs, pos, head, d_head]
            let rowSenders = sets.map { $0.filter { $0.layer == l }.map(\.head) }
            hooks.append(Hook(name) { act, _ in
                act = Self.tile(cleanZ, C)
                let per = cleanZ.count / N, E = c.dHead, H = c.nHeads
                for (v, heads) in rowSenders.enumerated() where !heads.isEmpty {
                    for n in 0..<N {
                        for p in 0..<self.positions {
                            for h in heads {
                                let o = p * H * E + h * E
                                for e in 0..<E { act.data[(v * N + n) * per + o + e] = corruptZ.data[n * per + o + e] }
                            }
                        }
                    }
                }
            })
            if freezeMLPs && !c.attnOnly {
                let mlp = try cleanAct(actName("mlp_out", layer: l))
                hooks.append(Hook(actName("mlp_out", layer: l)) { act, _ in act = Self.tile(mlp, C) })
            }
        }
        let residual = Self.tile(try cleanAct(actName("resid_pre", layer: start)), C)
        if receivers.isEmpty {
            let r = try model.forward(rows, options: ForwardOptions(hooks: hooks, startAtLayer: start, logits: .last), residual: residual)
            return context.variants(r.logits ?? Tensor(zeros: [0]), count: C)
        }

        // Record the receivers' inputs (clean where the sender run cannot reach them).
        let receiverNames = Set(receivers.compactMap { r -> String? in
            if case let .head(h, input) = r { return actName(input.rawValue, layer: h.layer) }
            return nil
        })
        let reached = receiverNames.filter { (HookName($0)?.layer ?? 0) >= start }
        let maxLayer = receivers.compactMap { r -> Int? in if case let .head(h, _) = r { return h.layer }; return nil }.max() ?? start
        var recorded: [String: Tensor] = [:]
        if !reached.isEmpty {
            let r = try model.forward(rows, options: ForwardOptions(hooks: hooks, cache: .names(Array(reached)), startAtLayer: start,
                                                                    stopAtLayer: maxLayer + 1, logits: .none), residual: residual)
            for n in reached { recorded[n] = try r.cache.require(n) }
        }
        for n in receiverNames where recorded[n] == nil { recorded[n] = Self.tile(try cleanAct(n), C) }

        // Receiver run: the clean prompt with only the receivers' q/k/v replaced.
        let first = receivers.compactMap { r -> Int? in if case let .head(h, _) = r { return h.layer }; return nil }.min() ?? 0
        var patch: [Hook] = []
        for name in receiverNames.sorted() {
            guard let values = recorded[name] else { continue }
            let heads = receivers.compactMap { r -> Int? in
                if case let .head(h, input) = r, actName(input.rawValue, layer: h.layer) == name { return h.head }
                return nil
            }
            patch.append(Hook(name) { act, _ in
                // [rows, pos, heads, d_head]: copy the receiver heads' vectors.
                let (R, P, Hs, E) = (act.shape[0], act.shape[1], act.shape[2], act.shape[3])
                for r in 0..<R { for p in 0..<P { for h in heads {
                    let o = ((r * P + p) * Hs + h) * E
                    for e in 0..<E { act.data[o + e] = values.data[o + e] }
                } } }
            })
        }
        let base = Self.tile(try cleanAct(actName("resid_pre", layer: first)), C)
        let r = try model.forward(rows, options: ForwardOptions(hooks: patch, startAtLayer: first, logits: .last), residual: base)
        return context.variants(r.logits ?? Tensor(zeros: [0]), count: C)
    }
}
