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
        // What patching reads, and what the logit lens reads.
        var names = LogitLens.cacheNames(c)
        for l in 0..<L { names.append("blocks.\(l).attn.hook_z") }
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

        var diff = try ActivationDiff.run(model: m, a: [pair.clean], b: [pair.corrupted], position: .final, top: 8, rankBy: .norm)
        // The subject's token labels (letters for the planted model) in the unembedded differences.
        let relabel = { (ts: [DiffToken]?) in ts?.map { DiffToken(id: $0.id, token: subject.tokenLabel($0.id), value: $0.value) } }
        for i in diff.components.indices { diff.components[i].up = relabel(diff.components[i].up); diff.components[i].down = relabel(diff.components[i].down) }
        for i in diff.byLayer.indices { diff.byLayer[i].up = relabel(diff.byLayer[i].up); diff.byLayer[i].down = relabel(diff.byLayer[i].down) }

        return DemoPairResult(
            cleanLabels: pair.clean.map(subject.tokenLabel), corruptedLabels: pair.corrupted.map(subject.tokenLabel),
            answerLabel: subject.tokenLabel(pair.answer), wrongAnswerLabel: pair.wrongAnswer.map(subject.tokenLabel),
            description: pair.description, cleanMetric: cm, corruptedMetric: km,
            headPatching: DemoHeadScores(name: "patching recovery", values: heads), residPatching: resid,
            logitLens: try logitLens(subject, clean.cache, pair: pair), diff: diff)
    }

    /// The clean run's last position through `LogitLens` (own normalisation) at every residual-stream
    /// boundary: the top 5 tokens and the answer's rank (0 = top) and probability, with the
    /// subject's token labels.
    static func logitLens(_ subject: DemoSubject, _ cache: ActivationCache, pair: DemoPromptPair) throws -> [LensTableRow] {
        let m = subject.model, V = m.config.dVocab
        let (labels, logits) = try LogitLens.logits(model: m, cache: cache, position: pair.clean.count - 1, mode: .own)  // [entries, d_vocab]
        return labels.enumerated().map { i, label in
            let row = LogitRow(Array(logits.data[(i * V)..<((i + 1) * V)]))
            let top = row.topIDs(5, largest: true).map { TokenProbability(token: subject.tokenLabel($0), probability: row.prob($0), logit: row.logits[$0]) }
            return LensTableRow(label: label, top: top, targetRank: row.rank(of: pair.answer), targetProbability: row.prob(pair.answer))
        }
    }
}
