import Foundation
import Mechanic

/// The prompt-pair half of the demo: metric, activation patching (per head and per residual
/// position), logit lens and activation differences — computed directly with hooks.
enum DemoPatching {
    static func metric(_ logits: Tensor, _ pair: DemoPromptPair) -> Float {
        let row = logits.data.suffix(logits.shape.last ?? 0)  // the last position
        let base = row.startIndex
        return row[base + pair.answer] - (pair.wrongAnswer.map { row[base + $0] } ?? 0)
    }

    static func run(_ subject: DemoSubject, _ pair: DemoPromptPair) throws -> DemoPairResult {
        let m = subject.model, c = m.config
        guard pair.clean.count == pair.corrupted.count, !pair.clean.isEmpty else {
            throw MechanicError.invalidArgument("the demo's prompts must have the same number of tokens (\(pair.clean.count) vs \(pair.corrupted.count))")
        }
        let L = c.nLayers, P = pair.clean.count
        var names: [String] = ["hook_embed"]
        for l in 0..<L {
            names += ["blocks.\(l).hook_resid_pre", "blocks.\(l).attn.hook_z", "blocks.\(l).hook_attn_out"]
            if !c.attnOnly { names.append("blocks.\(l).hook_mlp_out") }
        }
        names.append("blocks.\(L - 1).hook_resid_post")
        let options = ForwardOptions(cache: .names(names), logits: .last)
        let clean = try m.forward(TokenBatch(pair.clean), options: options)
        let corrupted = try m.forward(TokenBatch(pair.corrupted), options: options)
        guard let cleanLogits = clean.logits, let corruptedLogits = corrupted.logits else {
            throw MechanicError.invalidArgument("the model returned no logits")
        }
        let (cm, km) = (metric(cleanLogits, pair), metric(corruptedLogits, pair))
        let span = cm - km
        let normalize = { (x: Float) -> Float in abs(span) < 1e-6 ? .nan : (x - km) / span }

        // Patch one head's z (all positions), running from its layer on the corrupted residual.
        var heads = [[Float]](repeating: [Float](repeating: 0, count: c.nHeads), count: L)
        for l in 0..<L {
            let cleanZ = try clean.cache.require("blocks.\(l).attn.hook_z")  // [1, pos, head, d_head]
            let start = try corrupted.cache.require("blocks.\(l).hook_resid_pre")
            for h in 0..<c.nHeads {
                let hook = Hook("blocks.\(l).attn.hook_z") { z, _ in
                    let (H, E) = (z.shape[2], z.shape[3])
                    for p in 0..<z.shape[1] { for e in 0..<E { z.data[(p * H + h) * E + e] = cleanZ.data[(p * H + h) * E + e] } }
                }
                let r = try m.forward(TokenBatch(pair.corrupted), options: ForwardOptions(hooks: [hook], startAtLayer: l, logits: .last),
                                      residual: start)
                heads[l][h] = normalize(metric(r.logits ?? corruptedLogits, pair))
            }
        }

        // Patch the clean residual stream at one (layer, position).
        var resid = [[Float]](repeating: [Float](repeating: 0, count: P), count: L)
        for l in 0..<L {
            let cleanResid = try clean.cache.require("blocks.\(l).hook_resid_pre"), base = try corrupted.cache.require("blocks.\(l).hook_resid_pre")
            let D = c.dModel
            for p in 0..<P {
                var patched = base
                for d in 0..<D { patched.data[p * D + d] = cleanResid.data[p * D + d] }
                let r = try m.forward(TokenBatch(pair.corrupted), options: ForwardOptions(startAtLayer: l, logits: .last), residual: patched)
                resid[l][p] = normalize(metric(r.logits ?? corruptedLogits, pair))
            }
        }

        // ‖clean − corrupted‖ per component, over all positions.
        var diffs: [(label: String, value: Float)] = []
        func norm(_ a: Tensor, _ b: Tensor, where keep: (Int) -> Bool = { _ in true }) -> Float {
            var s: Double = 0
            for i in a.data.indices where keep(i) { let d = Double(a.data[i] - b.data[i]); s += d * d }
            return Float(s.squareRoot())
        }
        if let a = clean.cache["hook_embed"], let b = corrupted.cache["hook_embed"] { diffs.append(("hook_embed", norm(a, b))) }
        for l in 0..<L {
            if let a = clean.cache["blocks.\(l).attn.hook_z"], let b = corrupted.cache["blocks.\(l).attn.hook_z"] {
                let (H, E) = (a.shape[2], a.shape[3])
                for h in 0..<H { diffs.append(("blocks.\(l).attn.hook_z[\(DemoHeadScores.label(layer: l, head: h))]", norm(a, b) { ($0 / E) % H == h })) }
            }
            for name in ["blocks.\(l).hook_attn_out", "blocks.\(l).hook_mlp_out"] {
                if let a = clean.cache[name], let b = corrupted.cache[name] { diffs.append((name, norm(a, b))) }
            }
        }
        diffs.sort { $0.value != $1.value ? $0.value > $1.value : $0.label < $1.label }

        return DemoPairResult(
            cleanLabels: pair.clean.map(subject.tokenLabel), corruptedLabels: pair.corrupted.map(subject.tokenLabel),
            answerLabel: subject.tokenLabel(pair.answer), wrongAnswerLabel: pair.wrongAnswer.map(subject.tokenLabel),
            description: pair.description, cleanMetric: cm, corruptedMetric: km,
            headPatching: DemoHeadScores(name: "patching recovery", values: heads), residPatching: resid,
            logitLens: try logitLens(subject, clean.cache, pair: pair), differences: diffs)
    }

    /// The final position of the clean run after the embeddings and after each block, through the
    /// final norm (recomputed per layer) and the unembedding: top 5 tokens and the answer's rank.
    static func logitLens(_ subject: DemoSubject, _ cache: ActivationCache, pair: DemoPromptPair) throws -> [LensTableRow] {
        let m = subject.model, c = m.config, D = c.dModel, L = c.nLayers
        var stops: [(String, Tensor)] = []
        for l in 0..<L { stops.append((l == 0 ? "embeddings" : "after L\(l - 1)", try cache.require("blocks.\(l).hook_resid_pre"))) }
        stops.append(("after L\(L - 1) (final)", try cache.require("blocks.\(L - 1).hook_resid_post")))
        return stops.map { label, resid in
            var x = Array(resid.data.suffix(D))
            finalNorm(&x, m)
            let logits = Tensor(shape: [1, D], data: x).linear(m.weights.W_U, bias: m.weights.b_U).data
            let lse = logits.withUnsafeBufferPointer { p in p.baseAddress.map { Rows.logSumExp($0, n: p.count) } ?? 0 }
            let order = logits.indices.sorted { logits[$0] != logits[$1] ? logits[$0] > logits[$1] : $0 < $1 }
            let top = order.prefix(5).map { TokenProbability(token: subject.tokenLabel($0), probability: expf(logits[$0] - lse), logit: logits[$0]) }
            let rank = (order.firstIndex(of: pair.answer) ?? order.count) + 1
            return LensTableRow(label: label, top: top, targetRank: rank, targetProbability: expf(logits[pair.answer] - lse))
        }
    }

    /// `ln_final` applied to one residual vector (scale recomputed, as a per-layer logit lens does).
    static func finalNorm(_ x: inout [Float], _ m: HookedTransformer) {
        let c = m.config, D = Float(x.count)
        guard c.normalization != .none else { return }
        if c.usesLayerNorm {
            let mean = x.reduce(0, +) / D
            for i in x.indices { x[i] -= mean }
        }
        let scale = (x.reduce(0) { $0 + $1 * $1 } / D + c.eps).squareRoot()
        for i in x.indices { x[i] /= scale }
        if let w = m.weights.lnFinalW { for i in x.indices { x[i] *= w.data[i] } }
        if let b = m.weights.lnFinalB { for i in x.indices { x[i] += b.data[i] } }
    }
}
