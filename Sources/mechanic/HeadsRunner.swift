import ArgumentParser
import Foundation
import Mechanic
import MechanicAnalysis

/// What every `heads` analysis shares once its options are parsed: the model, the report
/// header, the prompt and the output switches. Each analysis calls one library function and
/// prints its result (`--json`: the library's Codable result type).
struct HeadsRunner {
    let m: HookedTransformer
    var meta: [(key: String, value: String)]
    /// The planted model's BOS when `--model planted:induction`.
    let plantedBOS: Int?
    let json: Bool
    let report: HTMLReportOption
    let prompt: String?, tokens: String?, noBos: Bool

    init(_ modelOptions: ModelOptions, input: HeadsInput?, json: Bool, report: HTMLReportOption) throws {
        if modelOptions.model == "planted:induction" {
            let planted = try PlantedInductionModel.build()
            try self.init(model: planted.model, plantedBOS: planted.bos, modelOptions, input: input, json: json, report: report)
        } else {
            try self.init(model: try modelOptions.load(), plantedBOS: nil, modelOptions, input: input, json: json, report: report)
        }
    }

    /// A runner on an already loaded model (the server's).
    init(model: HookedTransformer, plantedBOS: Int?, _ modelOptions: ModelOptions, input: HeadsInput?, json: Bool, report: HTMLReportOption) throws {
        (m, self.plantedBOS) = (model, plantedBOS)
        meta = reportMeta(m, processed: !modelOptions.noProcessing)
        if modelOptions.model == "planted:induction" {
            meta = [("model", "planted:induction (PlantedInductionModel, hand-set weights)"), meta[1]]
        }
        (prompt, tokens, noBos) = (input?.prompt, input?.tokens, input?.noBos ?? false)
        if let prompt { meta.append(("prompt", prompt + (noBos ? "  (no BOS)" : ""))) }
        if let tokens { meta.append(("tokens", tokens)) }
        (self.json, self.report) = (json, report)
    }

    func ids() throws -> [Int] {
        if let tokens { return try parseTokenList(tokens, option: "--tokens") }
        return try m.toTokens(prompt ?? "", prependBOS: noBos ? false : nil)
    }

    func piece(_ id: Int) -> String {
        let s = m.tokenizer == nil ? "" : m.pieceString(id)
        return s.isEmpty ? "#\(id)" : s
    }

    // MARK: analyses

    func detect(_ kind: HeadKind, options: HeadDetectionOptions) throws -> CommandResult {
        let ids = try ids()
        let r = try m.detectHead(tokens: ids, pattern: .head(kind), options: options)
        r.warnings.forEach { warn("warning: " + $0) }
        let measure = options.errorMeasure.rawValue
        try report.write {
            var detection = HeadDetectionReport(kind: kind, tokens: ids, strTokens: ids.map(piece), options: options, result: r)
            detection.examples = try detection.topHeads(3).map { l, h, score in
                AttentionPanel(label: "L\(l)H\(h)", pattern: AttentionPatternReport.rows(try m.attentionPattern(tokens: ids, layer: l, head: h)),
                               note: "score \(HTMLText.format(score))")
            }
            return HTMLReportOption.report("detect_head: \(kind.rawValue)", meta: meta + [("measure", measure), ("exclude BOS", "\(options.excludeBOS)"),
                                           ("exclude current token", "\(options.excludeCurrentToken)")], [detection])
        }
        let out = CommandResult(HeadScoresResult(r.scores))
        if json { return out }
        print("detect_head \(kind.rawValue) (\(measure)\(options.excludeBOS ? ", exclude BOS" : "")\(options.excludeCurrentToken ? ", exclude current token" : ""))")
        printLayerHeadTable(r.scores)
        return out
    }

    func induction(seqLen: Int?, batch: Int, seed: UInt64, bos: Int?, distinct: Bool) throws -> CommandResult {
        let r = try m.inductionScores(seqLen: seqLen, batch: batch, seed: seed, bos: bos ?? plantedBOS, distinct: distinct)
        let result = InductionScoresResult(r, batch: batch, seed: seed)
        try report.write(title: "Induction scores", meta: meta + [("seq_len", "\(r.seqLen)"), ("batch", "\(batch)"), ("seed", "\(seed)"),
                                                                  ("BOS", result.bos.map { "\($0)" } ?? "none"), ("distinct", "\(distinct)")], [r])
        let out = CommandResult(result)
        if json { return out }
        print("induction scores: \(batch) × [\(result.bos != nil ? "BOS + " : "")r + r], |r| = \(r.seqLen), seed \(seed)")
        printLayerHeadTable(r.scores)
        printTop(r.scores, label: "top induction heads")
        return out
    }

    func pattern(_ head: HeadIndex) throws -> CommandResult {
        let ids = try ids()
        let p = try m.attentionPattern(tokens: ids, layer: head.layer, head: head.head)  // [q, k]
        let pieces = ids.map(piece)
        let n = ids.count
        try report.write(title: "Attention pattern \(head)", meta: meta,
                         [AttentionPatternReport(layer: head.layer, head: head.head, tokens: ids, strTokens: pieces, pattern: p)])
        let out = CommandResult(AttentionPatternResult(head: head, tokens: ids, strTokens: pieces, pattern: p))
        if json { return out }
        print("attention pattern \(head) (rows: query, columns: key)")
        let labels = pieces.map { String($0.debugDescription.prefix(10)) }
        print(String(repeating: " ", count: 16) + (0..<n).map { String(format: "%6d", $0) }.joined())
        for i in 0..<n {
            let row = (0..<n).map { j in j > i ? "     ." : String(format: "%6.2f", p[i, j]) }.joined()
            print(String(format: "%3d ", i) + labels[i].padding(toLength: 12, withPad: " ", startingAt: 0) + row)
        }
        return out
    }

    func copyScores(embedding: CopyEmbedding, topK k: Int, heads: [HeadIndex]?) throws -> CommandResult {
        let s = try m.copyScores(CopyScoreOptions(embedding: embedding, topK: k, heads: heads?.map { ($0.layer, $0.head) }))
        try report.write(title: "OV copy scores", meta: meta + [("embedding", embedding.rawValue), ("top-k", "\(k)")], [s])
        let out = CommandResult(CopyScoresResult(s, embedding: embedding, topK: k))
        if json { return out }
        print("fraction of tokens whose own id is in the top \(k) of their OV-circuit output (\(embedding.rawValue) embedding)")
        printLayerHeadTable(s.topKFraction)
        print("\neigenvalue copying score Re(Σλ)/Σ|λ| of the full OV circuit")
        printLayerHeadTable(s.eigenScore)
        printTop(s.eigenScore, label: "top copying heads (eigenvalue score)")
        return out
    }

    func mapping(file: String, embedding: CopyEmbedding, k: Int, heads: [HeadIndex]?) throws -> CommandResult {
        let data = try InputFile.read(file, what: "a JSON mapping of source → target tokens", limit: InputFile.textLimit)
        let mapping = try TokenMapping.parse(json: data) { try m.toSingleToken($0) }
        let r = try m.mappingScores(mapping, embedding: embedding, k: k, heads: heads?.map { ($0.layer, $0.head) })
        try report.write(title: "Mapping scores", meta: meta + [("embedding", embedding.rawValue), ("mapping", file), ("k", "\(k)")], [r])
        let out = CommandResult(MappingScoresResult(r, mapping: mapping, embedding: embedding))
        if json { return out }
        print("mapping scores over \(mapping.pairs.count) pairs (\(embedding.rawValue) embedding); rank 1 = the head's top output")
        print("head      mean rank   top-1   top-\(k)")
        let ranked = r.headsByMeanRank
        for h in ranked { print(String(format: "L%-2dH%-3d %11.1f %7.2f %7.2f", h.layer, h.head, h.meanRank, h.top1, h.topK)) }
        if let best = ranked.first {
            print("\nL\(best.layer)H\(best.head), pair by pair:")
            for (i, l) in mapping.labels.enumerated() {
                print("  \(l.source.debugDescription) → \(l.target.debugDescription): rank \(best.ranks[i]), logit "
                      + String(format: "%.3f", best.logits[i]) + " (source's own rank \(best.sourceRanks[i]))")
            }
        }
        return out
    }

    func composition(_ mode: CompositionMode) throws -> CommandResult {
        let s = try m.allCompositionScores(mode)  // [L, H, L, H]
        try report.write(title: "\(mode.rawValue)-composition scores", meta: meta + [("mode", mode.rawValue)], [CompositionReport(mode: mode, scores: s)])
        let out = CommandResult(CompositionScoresResult(mode: mode, scores: s))
        if json { return out }
        print("\(mode)-composition scores ‖OV₁·M₂‖/(‖OV₁‖‖M₂‖), strongest first (earlier head → later head)")
        for e in HeadRanking.compositions(s, limit: 20) { print("\(e.sender) → \(e.receiver)  " + String(format: "%.4f", e.score)) }
        return out
    }

    func nameMovers(answer: Int, wrong: Int, answerPos: Int?) throws -> CommandResult {
        let ids = try ids()
        let (a, w) = (answer, wrong)
        let s = try m.nameMoverScatter(tokens: ids, answer: a, wrong: w, answerPosition: answerPos)
        try report.write(title: "Name-mover scatter", meta: meta + [("answer", "\(piece(a).debugDescription) (id \(a))"),
                                                                    ("wrong", "\(piece(w).debugDescription) (id \(w))")],
                         [NameMoverReport(scatter: s, strTokens: ids.map(piece), answerToken: piece(a), wrongToken: piece(w))])
        let out = CommandResult(NameMoverResult(s))
        if json { return out }
        print("direct effect on logit[\(piece(a).debugDescription)] − logit[\(piece(w).debugDescription)] at position \(s.finalPosition) "
              + "vs attention to the answer at position \(s.answerPosition)")
        print("head     direct effect   attn→answer   attn→wrong")
        for p in s.pointsByDirectEffect {
            let toWrong = p.attnToWrong.map { String(format: "%10.3f", $0) } ?? "         –"
            print(String(format: "L%-2dH%-3d %14.4f %13.3f   ", p.layer, p.head, p.directEffect, p.attnToAnswer) + toWrong)
        }
        return out
    }

    // MARK: output helpers

    func printLayerHeadTable(_ t: Tensor) {
        let (L, H) = (t.shape[0], t.shape[1])
        print("layer" + (0..<H).map { String(repeating: " ", count: max(0, 7 - "\($0)".count)) + "H\($0)" }.joined())
        for l in 0..<L {
            print(String(format: "%5d", l) + (0..<H).map { h in t[l, h].isFinite ? String(format: "%8.3f", t[l, h]) : "     nan" }.joined())
        }
    }

    func printTop(_ t: Tensor, label: String, count: Int = 5) {
        print("\(label): " + HeadRanking.top(t, count: count).map { "\($0.head) " + String(format: "%.3f", $0.score) }.joined(separator: ", "))
    }
}
