import Foundation
import Mechanic
import MechanicAnalysis

/// The prompt-pair half of the demo, on the toolkit's shared implementations: activation
/// patching per head and per residual position (`PatchingRun`, what `mechanic patch` runs),
/// the logit lens (`LogitLens`) and the activation differences (`ActivationDiff`).
enum DemoPatching {
    /// The wrong token of the metric `logit[answer] − logit[wrong]`: the pair's, or else the first
    /// token that occurs in neither prompt (nor is BOS) — on the planted model its logit is 0 in
    /// every run, so the metric is the answer's logit.
    static func wrongToken(_ pair: DemoPromptPair, dVocab: Int, bos: Int?) -> Int {
        if let w = pair.wrongAnswer { return w }
        let used = Set(pair.clean + pair.corrupted + [bos].compactMap { $0 })
        return (0..<dVocab).first { !used.contains($0) && $0 != pair.answer } ?? 0
    }

    static func run(_ subject: DemoSubject, _ pair: DemoPromptPair) throws -> DemoPairResult {
        let m = subject.model, c = m.config
        guard pair.clean.count == pair.corrupted.count, !pair.clean.isEmpty else {
            throw MechanicError.invalidArgument("the demo's prompts must have the same number of tokens (\(pair.clean.count) vs \(pair.corrupted.count))")
        }
        let patching = try PatchingRun(model: m, clean: pair.clean, corrupt: pair.corrupted, answer: pair.answer,
                                       wrong: wrongToken(pair, dVocab: c.dVocab, bos: subject.bos), metric: .logitDiff)
        let (cm, km) = (Float(patching.cleanMetric), Float(patching.corruptMetric))
        // (patched − corrupted) / (clean − corrupted): 1 = the clean run's metric restored.
        let normalize = { (t: Tensor) -> [[Float]] in
            let cols = t.shape[1]
            return (0..<t.shape[0]).map { r in (0..<cols).map { LogitDifference.normalized(t.data[r * cols + $0], clean: cm, corrupt: km) ?? .nan } }
        }
        let heads = normalize(try patching.run(.attnHeadOutAllPos).values)  // [layer, head]: each head's hook_z at all positions
        let resid = normalize(try patching.run(.residPre).values)          // [layer, pos]

        let clean = try m.forward(TokenBatch(pair.clean), options: ForwardOptions(cache: .names(LogitLens.cacheNames(c)), logits: .none))
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
