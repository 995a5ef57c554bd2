// MechanicDemo: `mechanic demo` — the toolkit's workflow (head scores, copy scores, patching, lens,
// diff) on a model with a known circuit, its `--json` summary and its HTML report.

import Foundation
import Mechanic
import MechanicAnalysis

/// `mechanic demo`: the toolkit's workflow on a model whose circuit is known — head scores on
/// repeated random tokens, OV copy scores, and for a prompt pair the activation differences,
/// activation patching (per head and per residual position) and a logit lens.
public enum Demo {
    /// Runs every analysis of the demo on `subject`.
    public static func run(_ subject: DemoSubject, options: DemoOptions = DemoOptions()) throws -> DemoResult {
        let m = subject.model, c = m.config
        let n = min(options.seqLen, (c.nCtx - (subject.bos == nil ? 0 : 1)) / 2)
        guard n >= 2 else { throw MechanicError.invalidArgument("the model's context (n_ctx = \(c.nCtx)) is too short for repeated random tokens") }
        let rows = try m.repeatedRandomTokens(seqLen: n, batch: max(options.batch, 1), seed: options.seed, bos: subject.bos, distinct: n < c.dVocab - 1)
        let patterns = try m.attentionPatterns(rows: rows)
        let scores = DemoScores.repeatedTokenScores(m, patterns: patterns, rows: rows, seqLen: n, hasBOS: subject.bos != nil)

        let candidates = (0..<c.dVocab).filter { $0 != subject.bos }
        let copyTokens = candidates.count <= options.copyTokens ? candidates
            : TokenSample.draw(count: options.copyTokens, from: c.dVocab, seed: options.seed, excluding: Set([subject.bos].compactMap { $0 }))
        let copying = try DemoScores.copyScores(m, tokens: copyTokens)

        // A short repeated sequence for the attention grid (readable token labels): [layer][head][q][k].
        let shortRow = try m.repeatedRandomTokens(seqLen: min(n, 10), batch: 1, seed: options.seed &+ 1, bos: subject.bos,
                                                  distinct: min(n, 10) < c.dVocab - 1)
        let P = shortRow[0].count
        let example = try m.attentionPatterns(rows: shortRow).map { pat in
            (0..<c.nHeads).map { h in (0..<P).map { q in Array(pat.data[((h * P + q) * P)..<((h * P + q) * P + P)]) } }
        }
        let pair = try subject.pair.map { try DemoPatching.run(subject, $0) }
        return DemoResult(subjectName: subject.name, nLayers: c.nLayers, nHeads: c.nHeads, repeatedTokens: shortRow[0],
                          repeatedLabels: shortRow[0].map(subject.tokenLabel), patterns: example, seqLen: n,
                          previousToken: scores.previous, induction: scores.induction, duplicateToken: scores.duplicate,
                          bos: scores.bos, copying: copying, pair: pair, plantedHeads: subject.plantedHeads, notes: subject.notes,
                          options: options)
    }

    /// The planted induction model (`PlantedInductionModel`): tokens named A, B, …, a prompt pair
    /// whose clean version can be completed by induction and whose corrupted version cannot.
    public static func plantedSubject(seed: UInt64 = 1) throws -> DemoSubject {
        let planted = try PlantedInductionModel.build()
        let bos = planted.bos
        let letters = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz").map(String.init)
        let label: (Int) -> String = { t in t == bos ? "<bos>" : (t >= 0 && t < letters.count ? letters[t] : "#\(t)") }
        // Clean: BOS, r1 … r10, r1 … r6 → the next token is r7 (induction). Corrupted: the first r6
        // replaced by a token absent from the prompt, so no earlier r6 can be found.
        let r = try planted.model.repeatedRandomTokens(seqLen: 11, batch: 1, seed: seed, bos: bos, distinct: true)[0]
        let fresh = Array(r[1...11])  // [BOS] + r + r: take r (11 distinct tokens)
        let body = Array(fresh.prefix(10)), outsider = fresh[10]
        let clean = [bos] + body + body.prefix(6)
        var corrupted = clean
        corrupted[6] = outsider
        let pair = DemoPromptPair(clean: clean, corrupted: corrupted, answer: body[6],
                                  description: "Clean: random tokens, then the first six again — induction predicts the seventh (\(label(body[6]))). "
                                  + "Corrupted: the first occurrence of \(label(body[5])) is replaced by \(label(outsider)), so there is nothing to copy. "
                                  + "Metric: the logit of \(label(body[6])) at the last position.")
        let truth = ["previous_token": [DemoHeadScores.label(layer: PlantedInductionModel.previousTokenHead.layer, head: PlantedInductionModel.previousTokenHead.head)],
                     "induction": [DemoHeadScores.label(layer: PlantedInductionModel.inductionHead.layer, head: PlantedInductionModel.inductionHead.head)]]
        return DemoSubject(model: planted.model, name: "planted induction model (2 layers × 3 heads, attention only, hand-set weights)",
                           bos: bos, tokenLabel: label, pair: pair, plantedHeads: truth)
    }

    /// Any model: the repeated-token scores need no tokenizer; the prompt pair is TransformerLens's
    /// IOI example (`When John and Mary went to the store, John gave a drink to` → ` Mary`, corrupted
    /// with Mary as the second subject) when the tokenizer can encode it.
    public static func modelSubject(_ model: HookedTransformer, name: String) -> DemoSubject {
        let bos = model.config.defaultPrependBOS ? model.bosTokenId : nil  // config.json's bos_token_id without a tokenizer
        let label: (Int) -> String = { ReportTokens.label($0, model: model) }
        var notes: [String] = []
        var pair: DemoPromptPair?
        do {
            let clean = try model.toTokens("When John and Mary went to the store, John gave a drink to")
            let corrupted = try model.toTokens("When John and Mary went to the store, Mary gave a drink to")
            let mary = try model.toSingleToken(" Mary"), john = try model.toSingleToken(" John")
            if clean.count == corrupted.count, clean.count > 2 {
                pair = DemoPromptPair(clean: clean, corrupted: corrupted, answer: mary, wrongAnswer: john,
                                      description: "Indirect object identification: the clean prompt should continue with \" Mary\"; in the corrupted "
                                      + "prompt the second subject is Mary, so \" John\" is expected. Metric: logit(\" Mary\") − logit(\" John\").")
            } else {
                notes.append("The IOI prompts tokenize to different lengths (\(clean.count) vs \(corrupted.count)); the prompt-pair analyses are skipped.")
            }
        } catch {
            notes.append("The IOI prompt pair could not be tokenized (\(error)); the prompt-pair analyses are skipped.")
        }
        return DemoSubject(model: model, name: name, bos: bos, tokenLabel: label, pair: pair, notes: notes)
    }
}

extension DemoResult {
    /// The heads the demo identifies, each list ranked by its evidence (highest score first).
    public var identified: [String: [String]] {
        var out: [String: [String]] = [
            "previous_token_heads": previousToken.heads(above: options.threshold),
            "induction_heads": induction.heads(above: options.threshold),
            "duplicate_token_heads": duplicateToken.heads(above: options.threshold),
            "copy_heads": copying.heads(above: 0.5),
        ]
        if let bos { out["bos_heads"] = bos.heads(above: 0.5) }
        if let pair { out["patching_heads"] = pair.headPatching.heads(above: options.patchingThreshold) }
        return out
    }

    /// `--json`: the identified heads, every score by head, and the prompt-pair metrics.
    public var summary: DemoSummary {
        var scores: [String: [String: Double]] = [:]
        for s in [previousToken, induction, duplicateToken, copying] + [bos, pair?.headPatching].compactMap({ $0 }) {
            scores[s.name.replacingOccurrences(of: " ", with: "_").replacingOccurrences(of: "-", with: "_")] =
                Dictionary(uniqueKeysWithValues: s.ranked.map { ($0.head, Double($0.score)) })
        }
        return DemoSummary(
            identified: identified, scores: scores, model: subjectName, planted: plantedHeads.isEmpty ? nil : plantedHeads,
            promptPair: pair.map {
                DemoSummary.PromptPair(cleanMetric: Double($0.cleanMetric), corruptedMetric: Double($0.corruptedMetric),
                                       answer: $0.answerLabel, clean: $0.cleanLabels, corrupted: $0.corruptedLabels)
            },
            notes: notes.isEmpty ? nil : notes)
    }
}
