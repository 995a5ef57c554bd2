import ArgumentParser
import Foundation
import Mechanic
import MechanicAnalysis

struct HeadsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "heads",
        abstract: "Attention-head analysis: detect_head scores, induction scores, attention patterns, OV copy scores, composition scores, name-mover scatter data.",
        discussion: """
        Pick one analysis: --detect KIND, --induction, --pattern L:H, --copy-scores, --composition Q|K|V or \
        --name-movers. --detect, --pattern and --name-movers need --tokens or --prompt. \
        `--model planted:induction` builds the hand-written previous-token + induction model \
        (PlantedInductionModel; its BOS token is 47). JSON keys are listed in docs/cli/heads.md.
        """)

    @OptionGroup var modelOptions: ModelOptions

    @Option(name: .long, help: "The prompt text (BOS prepended as model.to_tokens does).")
    var prompt: String?

    @Option(name: .long, parsing: .unconditional, help: "Comma-separated token ids, used exactly as given.")
    var tokens: String?

    @Flag(name: .long, help: "Do not prepend BOS to --prompt.")
    var noBos = false

    @Option(name: .long, help: "detect_head pattern: previous_token, duplicate_token or induction (TransformerLens's *_head names work too).")
    var detect: String?

    @Option(name: .long, help: "detect_head error measure: mul (default) or abs.")
    var measure: String = "mul"

    @Flag(name: .long, help: "detect_head exclude_bos.")
    var excludeBos = false

    @Flag(name: .long, help: "detect_head exclude_current_token.")
    var excludeCurrentToken = false

    @Flag(name: .long, help: "Induction scores on repeated random tokens ([BOS] + r + r).")
    var induction = false

    @Option(name: .long, parsing: .unconditional, help: "Length of the random sequence r (default min(50, (n_ctx − 1) / 2)).")
    var seqLen: Int?

    @Option(name: .long, parsing: .unconditional, help: "Random sequences to average over.")
    var batch = 4

    @Option(name: .long, parsing: .unconditional, help: "Random seed (SplitMix64; the same seed gives the same tokens everywhere).")
    var seed: UInt64 = 0

    @Flag(name: .long, help: "Draw the tokens of r without repetition.")
    var distinct = false

    @Option(name: .long, parsing: .unconditional, help: "BOS token id for --induction (default: the tokenizer's, else config.json's bos_token_id).")
    var bos: Int?

    @Option(name: .long, parsing: .unconditional, help: "Only these heads, as L:H,L:H,… (--detect, --copy-scores; the others score −1).")
    var heads: String?

    @Option(name: .long, parsing: .unconditional, help: "Print one head's attention pattern, as LAYER:HEAD.")
    var pattern: String?

    @Flag(name: .long, help: "OV copy scores over the vocabulary (or over --mapping pairs).")
    var copyScores = false

    @Option(name: .long, help: "JSON file of source → target token pairs for --copy-scores.")
    var mapping: String?

    @Option(name: .long, help: "Token vectors fed to the OV circuits: direct (W_E), effective (W_E + MLP0(ln2(W_E))) or block0 (the token alone through block 0).")
    var embedding: String = "direct"

    @Flag(name: .long, help: "Same as --embedding effective.")
    var effectiveEmbedding = false

    @Option(name: .long, parsing: .unconditional, help: "Copy scores count a token when it is within the top k (default 1; 5 for --mapping).")
    var topK: Int?

    @Option(name: .long, help: "All composition scores for mode Q, K or V.")
    var composition: String?

    @Flag(name: .long, help: "Name-mover scatter: each head's direct effect on logit[answer] − logit[wrong] vs its attention to the answer.")
    var nameMovers = false

    @Option(name: .long, parsing: .unconditional, help: "The answer token (a single token, e.g. \" Mary\").")
    var answer: String?

    @Option(name: .long, parsing: .unconditional, help: "The wrong token (e.g. \" John\").")
    var wrong: String?

    @Option(name: .long, parsing: .unconditional, help: "The answer token id.")
    var answerId: Int?

    @Option(name: .long, parsing: .unconditional, help: "The wrong token id.")
    var wrongId: Int?

    @Option(name: .long, parsing: .unconditional, help: "Position of the answer token in the prompt (default: its first occurrence).")
    var answerPos: Int?

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    @OptionGroup var report: HTMLReportOption

    func validate() throws {
        let modes = [detect != nil, induction, pattern != nil, copyScores, composition != nil, nameMovers].filter { $0 }.count
        guard modes == 1 else {
            throw ValidationError("choose exactly one of --detect, --induction, --pattern, --copy-scores, --composition, --name-movers")
        }
        if prompt != nil && tokens != nil { throw ValidationError("give at most one of --prompt and --tokens") }
        if (detect != nil || pattern != nil || nameMovers) && prompt == nil && tokens == nil {
            throw ValidationError("this analysis needs --prompt or --tokens")
        }
        guard ErrorMeasure(rawValue: measure) != nil else { throw ValidationError("--measure must be mul or abs (got \(measure))") }
        if let detect, HeadKind(name: detect) == nil {
            throw ValidationError("--detect must be previous_token, duplicate_token or induction (got \(detect))")
        }
        if let composition, CompositionMode(rawValue: composition) == nil {
            throw ValidationError("--composition must be Q, K or V (got \(composition))")
        }
        if nameMovers {
            guard (answer != nil) != (answerId != nil), (wrong != nil) != (wrongId != nil) else {
                throw ValidationError("--name-movers needs the answer (--answer or --answer-id) and the wrong token (--wrong or --wrong-id)")
            }
        }
        if let k = topK, k < 1 { throw ValidationError("--top-k must be at least 1") }
        guard CopyEmbedding(rawValue: embedding) != nil else { throw ValidationError("--embedding must be direct, effective or block0") }
        try requireAtLeast(1, batch, "--batch")
        try requireAtLeast(1, seqLen, "--seq-len")
        try requireAtLeast(0, bos, "--bos")
        try requireAtLeast(0, answerPos, "--answer-pos")
        // --induction runs batch × [BOS + r + r] in one forward.
        try requirePositions(batch: batch, length: min(seqLen ?? 50, maxPositionsPerForward) * 2 + 1, "--batch and --seq-len")
    }

    func run() throws {
        var bos = self.bos
        let m: HookedTransformer
        if modelOptions.model == "planted:induction" {
            let planted = try PlantedInductionModel.build()
            m = planted.model
            bos = bos ?? planted.bos
        } else {
            m = try modelOptions.load()
        }
        var meta = reportMeta(m, processed: !modelOptions.noProcessing)
        if modelOptions.model == "planted:induction" {
            meta = [("model", "planted:induction (PlantedInductionModel, hand-set weights)"), meta[1]]
        }
        if let prompt { meta.append(("prompt", prompt + (noBos ? "  (no BOS)" : ""))) }
        if let tokens { meta.append(("tokens", tokens)) }
        if let heads { meta.append(("heads", heads)) }
        if let kind = detect.flatMap(HeadKind.init(name:)) { return try runDetect(m, kind, meta: meta) }
        if induction { return try runInduction(m, bos: bos, meta: meta) }
        if let pattern { return try runPattern(m, pattern, meta: meta) }
        if copyScores { return try runCopyScores(m, meta: meta) }
        if let mode = composition.flatMap(CompositionMode.init(rawValue:)) { return try runComposition(m, mode, meta: meta) }
        if nameMovers { return try runNameMovers(m, meta: meta) }
    }

    func ids(_ m: HookedTransformer) throws -> [Int] {
        if let tokens { return try parseTokenList(tokens, option: "--tokens") }
        return try m.toTokens(prompt ?? "", prependBOS: noBos ? false : nil)
    }

    /// `--heads 0:1,1:2`.
    func headList() throws -> [(layer: Int, head: Int)]? {
        guard let heads else { return nil }
        return try heads.split(separator: ",").map { item in
            let p = item.split(separator: ":").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard p.count == 2 else { throw MechanicError.invalidArgument("--heads expects LAYER:HEAD pairs separated by commas, got '\(item)'") }
            return (p[0], p[1])
        }
    }

    // MARK: analyses

    func runDetect(_ m: HookedTransformer, _ kind: HeadKind, meta: [(key: String, value: String)]) throws {
        let options = HeadDetectionOptions(heads: try headList(), excludeBOS: excludeBos, excludeCurrentToken: excludeCurrentToken,
                                           errorMeasure: ErrorMeasure(rawValue: measure) ?? .mul)
        let ids = try ids(m)
        let r = try m.detectHead(tokens: ids, pattern: .head(kind), options: options)
        r.warnings.forEach { warn("warning: " + $0) }
        try report.write {
            let pieces = ids.map { piece(m, $0) }
            var detection = HeadDetectionReport(kind: kind, tokens: ids, strTokens: pieces, options: options, result: r)
            detection.examples = try detection.topHeads(3).map { l, h, score in
                AttentionPanel(label: "L\(l)H\(h)", pattern: AttentionPatternReport.rows(try m.attentionPattern(tokens: ids, layer: l, head: h)),
                               note: "score \(HTMLText.format(score))")
            }
            return HTMLReportOption.report("detect_head: \(kind.rawValue)", meta: meta + [("measure", measure), ("exclude BOS", "\(excludeBos)"),
                                           ("exclude current token", "\(excludeCurrentToken)")], [detection])
        }
        if json { return try printJSON(["scores": Self.headsJSON(r.scores)]) }
        print("detect_head \(kind.rawValue) (\(measure)\(excludeBos ? ", exclude BOS" : "")\(excludeCurrentToken ? ", exclude current token" : ""))")
        printLayerHeadTable(r.scores)
    }

    func runInduction(_ m: HookedTransformer, bos: Int?, meta: [(key: String, value: String)]) throws {
        let r = try m.inductionScores(seqLen: seqLen, batch: batch, seed: seed, bos: bos, distinct: distinct)
        let usedBOS = r.tokens.first.map { $0.count > 2 * r.seqLen } ?? false
        try report.write(title: "Induction scores", meta: meta + [("seq_len", "\(r.seqLen)"), ("batch", "\(batch)"), ("seed", "\(seed)"),
                                                                  ("BOS", usedBOS ? "\(r.tokens[0][0])" : "none"), ("distinct", "\(distinct)")], [r])
        if json {
            return try printJSON(["seq_len": r.seqLen, "batch": batch, "seed": seed, "bos": usedBOS ? r.tokens[0][0] as Any : NSNull(),
                                  "tokens": r.tokens, "scores": Self.headsJSON(r.scores)])
        }
        print("induction scores: \(batch) × [\(usedBOS ? "BOS + " : "")r + r], |r| = \(r.seqLen), seed \(seed)")
        printLayerHeadTable(r.scores)
        printTop(r.scores, label: "top induction heads")
    }

    func runPattern(_ m: HookedTransformer, _ spec: String, meta: [(key: String, value: String)]) throws {
        let parts = spec.split(separator: ":").compactMap { Int($0) }
        guard parts.count == 2 else { throw MechanicError.invalidArgument("--pattern expects LAYER:HEAD, got '\(spec)'") }
        let ids = try ids(m)
        let p = try m.attentionPattern(tokens: ids, layer: parts[0], head: parts[1])  // [q, k]
        let pieces = ids.map { piece(m, $0) }
        let n = ids.count
        try report.write(title: "Attention pattern L\(parts[0])H\(parts[1])", meta: meta,
                         [AttentionPatternReport(layer: parts[0], head: parts[1], tokens: ids, strTokens: pieces, pattern: p)])
        if json {
            let rows = (0..<n).map { i in (0..<n).map { Self.jsonNumber(p[i, $0]) } }
            return try printJSON(["layer": parts[0], "head": parts[1], "tokens": ids, "str_tokens": pieces, "pattern": rows])
        }
        print("attention pattern L\(parts[0])H\(parts[1]) (rows: query, columns: key)")
        let labels = pieces.map { String($0.debugDescription.prefix(10)) }
        print(String(repeating: " ", count: 16) + (0..<n).map { String(format: "%6d", $0) }.joined())
        for i in 0..<n {
            let row = (0..<n).map { j in j > i ? "     ." : String(format: "%6.2f", p[i, j]) }.joined()
            print(String(format: "%3d ", i) + labels[i].padding(toLength: 12, withPad: " ", startingAt: 0) + row)
        }
    }

    func runCopyScores(_ m: HookedTransformer, meta: [(key: String, value: String)]) throws {
        let embedding: CopyEmbedding = effectiveEmbedding ? .effective : (CopyEmbedding(rawValue: self.embedding) ?? .direct)
        let meta = meta + [("embedding", embedding.rawValue)]
        if let mapping { return try runMapping(m, file: mapping, embedding: embedding, meta: meta) }
        let k = topK ?? 1
        let s = try m.copyScores(CopyScoreOptions(embedding: embedding, topK: k, heads: try headList()))
        try report.write(title: "OV copy scores", meta: meta + [("top-k", "\(k)")], [s])
        if json {
            return try printJSON(["embedding": embedding.rawValue, "top_k": k, "copy_fraction": Self.headsJSON(s.topKFraction),
                                  "eigen_score": Self.headsJSON(s.eigenScore), "positive_eigen_fraction": Self.headsJSON(s.positiveEigenFraction)])
        }
        print("fraction of tokens whose own id is in the top \(k) of their OV-circuit output (\(embedding.rawValue) embedding)")
        printLayerHeadTable(s.topKFraction)
        print("\neigenvalue copying score Re(Σλ)/Σ|λ| of the full OV circuit")
        printLayerHeadTable(s.eigenScore)
        printTop(s.eigenScore, label: "top copying heads (eigenvalue score)")
    }

    func runMapping(_ m: HookedTransformer, file: String, embedding: CopyEmbedding, meta: [(key: String, value: String)]) throws {
        let url = URL(fileURLWithPath: file)
        let data = try InputFile.read(url.path, what: "a JSON mapping of source → target tokens", limit: InputFile.textLimit)
        let mapping = try TokenMapping.parse(json: data) { try m.toSingleToken($0) }
        let k = topK ?? 5
        let r = try m.mappingScores(mapping, embedding: embedding, k: k, heads: try headList())
        try report.write(title: "Mapping scores", meta: meta + [("mapping", file), ("k", "\(k)")], [r])
        if json {
            let pairs = zip(mapping.pairs, mapping.labels).map { p, l in
                ["source": p.source, "target": p.target, "source_str": l.source, "target_str": l.target] as [String: Any]
            }
            let heads = r.heads.map { h in
                ["layer": h.layer, "head": h.head, "ranks": h.ranks, "logits": h.logits.map(Self.jsonNumber), "source_ranks": h.sourceRanks,
                 "mean_rank": h.meanRank, "top1": h.top1, "topk": h.topK] as [String: Any]
            }
            return try printJSON(["embedding": embedding.rawValue, "k": k, "pairs": pairs, "heads": heads])
        }
        print("mapping scores over \(mapping.pairs.count) pairs (\(embedding.rawValue) embedding); rank 1 = the head's top output")
        print("head      mean rank   top-1   top-\(k)")
        for h in r.heads.sorted(by: { $0.meanRank < $1.meanRank }) {
            print(String(format: "L%-2dH%-3d %11.1f %7.2f %7.2f", h.layer, h.head, h.meanRank, h.top1, h.topK))
        }
        if let best = r.heads.min(by: { $0.meanRank < $1.meanRank }) {
            print("\nL\(best.layer)H\(best.head), pair by pair:")
            for (i, l) in mapping.labels.enumerated() {
                print("  \(l.source.debugDescription) → \(l.target.debugDescription): rank \(best.ranks[i]), logit "
                      + String(format: "%.3f", best.logits[i]) + " (source's own rank \(best.sourceRanks[i]))")
            }
        }
    }

    func runComposition(_ m: HookedTransformer, _ mode: CompositionMode, meta: [(key: String, value: String)]) throws {
        let s = try m.allCompositionScores(mode)  // [L, H, L, H]
        try report.write(title: "\(mode.rawValue)-composition scores", meta: meta + [("mode", mode.rawValue)], [CompositionReport(mode: mode, scores: s)])
        let (L, H) = (m.config.nLayers, m.config.nHeads)
        if json {
            let nested = (0..<L).map { a in (0..<H).map { b in (0..<L).map { c in (0..<H).map { Self.jsonNumber(s[a, b, c, $0]) } } } }
            return try printJSON(["mode": mode.rawValue, "scores": nested])
        }
        var entries: [(Int, Int, Int, Int, Float)] = []
        for a in 0..<L { for b in 0..<H { for c in (a + 1)..<max(a + 1, L) { for d in 0..<H { entries.append((a, b, c, d, s[a, b, c, d])) } } } }
        entries.sort { $0.4 > $1.4 }
        print("\(mode)-composition scores ‖OV₁·M₂‖/(‖OV₁‖‖M₂‖), strongest first (earlier head → later head)")
        for e in entries.prefix(20) { print(String(format: "L%dH%d → L%dH%d  %.4f", e.0, e.1, e.2, e.3, e.4)) }
    }

    func runNameMovers(_ m: HookedTransformer, meta: [(key: String, value: String)]) throws {
        let ids = try ids(m)
        let a = try answerId ?? m.toSingleToken(answer ?? "")
        let w = try wrongId ?? m.toSingleToken(wrong ?? "")
        let s = try m.nameMoverScatter(tokens: ids, answer: a, wrong: w, answerPosition: answerPos)
        try report.write(title: "Name-mover scatter", meta: meta + [("answer", "\(piece(m, a).debugDescription) (id \(a))"),
                                                                    ("wrong", "\(piece(m, w).debugDescription) (id \(w))")],
                         [NameMoverReport(scatter: s, strTokens: ids.map { piece(m, $0) }, answerToken: piece(m, a), wrongToken: piece(m, w))])
        if json {
            let heads = s.points.map { p in
                ["layer": p.layer, "head": p.head, "direct_effect": Self.jsonNumber(p.directEffect), "attn_to_answer": Self.jsonNumber(p.attnToAnswer),
                 "attn_to_wrong": p.attnToWrong.map(Self.jsonNumber) ?? NSNull()] as [String: Any]
            }
            return try printJSON(["tokens": ids, "answer_id": a, "wrong_id": w, "answer_pos": s.answerPosition,
                                  "wrong_pos": s.wrongPosition as Any? ?? NSNull(), "final_pos": s.finalPosition, "heads": heads])
        }
        print("direct effect on logit[\(piece(m, a).debugDescription)] − logit[\(piece(m, w).debugDescription)] at position \(s.finalPosition) "
              + "vs attention to the answer at position \(s.answerPosition)")
        print("head     direct effect   attn→answer   attn→wrong")
        for p in s.points.sorted(by: { $0.directEffect > $1.directEffect }) {
            let toWrong = p.attnToWrong.map { String(format: "%10.3f", $0) } ?? "         –"
            print(String(format: "L%-2dH%-3d %14.4f %13.3f   ", p.layer, p.head, p.directEffect, p.attnToAnswer) + toWrong)
        }
    }

    // MARK: output helpers

    func piece(_ m: HookedTransformer, _ id: Int) -> String {
        let s = m.tokenizer == nil ? "" : m.pieceString(id)
        return s.isEmpty ? "#\(id)" : s
    }

    func printLayerHeadTable(_ t: Tensor) {
        let (L, H) = (t.shape[0], t.shape[1])
        print("layer" + (0..<H).map { String(repeating: " ", count: max(0, 7 - "\($0)".count)) + "H\($0)" }.joined())
        for l in 0..<L {
            print(String(format: "%5d", l) + (0..<H).map { h in t[l, h].isFinite ? String(format: "%8.3f", t[l, h]) : "     nan" }.joined())
        }
    }

    func printTop(_ t: Tensor, label: String, count: Int = 5) {
        let H = t.shape[1]
        let order = t.data.indices.filter { t.data[$0].isFinite }.sorted { t.data[$0] > t.data[$1] }.prefix(count)
        print("\(label): " + order.map { "L\($0 / H)H\($0 % H) " + String(format: "%.3f", t.data[$0]) }.joined(separator: ", "))
    }

    /// A float for JSON (non-finite values become null: JSON has no NaN).
    static func jsonNumber(_ x: Float) -> Any { x.isFinite ? Double(x) : NSNull() }

    /// `[n_layers, n_heads]` as nested arrays.
    static func headsJSON(_ t: Tensor) -> [[Any]] {
        (0..<t.shape[0]).map { l in (0..<t.shape[1]).map { jsonNumber(t[l, $0]) } }
    }
}
