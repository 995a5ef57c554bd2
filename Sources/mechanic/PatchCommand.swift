import ArgumentParser
import Foundation
import Mechanic
import MechanicAnalysis

struct PatchCommand: ModelCommand {
    static let configuration = CommandConfiguration(
        commandName: "patch",
        abstract: "Activation patching (TransformerLens's get_act_patch_* family), ablation and path patching.",
        discussion: """
        Clean activations are patched into the corrupted run, one patch at a time, and the metric is read at the \
        final position (default: logits[answer] − logits[wrong]). --act names the family by the suffix of its \
        TransformerLens function: \(ActPatchKind.allCases.map(\.rawValue).joined(separator: ", ")).
        --json prints {"act", "shape", "values" (nested, TransformerLens's axis order), "clean_metric", \
        "corrupt_metric", "axes", "metric", "clean_logit_diff", "corrupt_logit_diff"}.
        See docs/cli/patch.md.
        """)

    @OptionGroup var model: ModelOptions

    @Option(name: .long, parsing: .unconditional, help: "Clean prompt as comma-separated token ids (run exactly as given).")
    var cleanTokens: String?
    @Option(name: .long, parsing: .unconditional, help: "Corrupted prompt as comma-separated token ids (same length as the clean one).")
    var corruptTokens: String?
    @Option(name: .long, help: "Clean prompt text (BOS prepended as TransformerLens does unless --no-bos).")
    var clean: String?
    @Option(name: .long, help: "Corrupted prompt text.")
    var corrupt: String?
    @Flag(name: .long, help: "Do not prepend BOS to --clean/--corrupt texts.")
    var noBos = false
    @Option(name: .long, help: "JSON-lines file of {\"clean\", \"corrupt\", \"answer\", \"wrong\"} pairs (texts or ids); results are averaged.")
    var dataset: String?

    @Option(name: .long, parsing: .unconditional, help: "Token id the clean run should predict.")
    var answerId: Int?
    @Option(name: .long, parsing: .unconditional, help: "Token id the corrupted run predicts instead.")
    var wrongId: Int?
    @Option(name: .long, parsing: .unconditional, help: "Answer text (exactly one token, e.g. \" Paris\").")
    var answer: String?
    @Option(name: .long, parsing: .unconditional, help: "Wrong-answer text (exactly one token).")
    var wrong: String?

    @Option(name: .long, help: "Patching family (suffix of a TransformerLens get_act_patch_* function).")
    var act: ActPatchKind?
    @Option(name: .long, help: "logit_diff | normalized_logit_diff | prob | loss | kl (read at the final position).")
    var metric: PatchingMetric = .logitDiff
    @Option(name: .long, help: "Ablate the clean run instead of patching: zero | mean | resample (from the corrupted prompt).")
    var ablate: AblationMode?
    @Option(name: .long, help: "mlp_neuron: patch each neuron at all positions or only the final one (all | final).")
    var neuronPositions: ActPatchKind.NeuronPositions = .all
    @Option(name: .long, help: "fast (default, packed engine), batched (core forward from the patched layer) or naive (one full forward per patch, as TransformerLens).")
    var engine: PatchEngine = .fast

    @Option(name: .long, help: "Path patching senders, e.g. L9H6,L9H9 (omit for a grid over every head).")
    var pathSenders: String?
    @Option(name: .long, help: "Path patching receivers, e.g. L10H7:q,L10H3:k, or 'logits'.")
    var pathReceivers: String?
    @Flag(name: .long, help: "Path patching: freeze MLP outputs too, so only direct head-to-receiver paths count.")
    var freezeMlps = false

    @Option(name: .long, help: "Attribution patching instead of exact patching: atp (linear estimate from one forward and one backward) or atp* (query/key patches recompute the attention pattern exactly). Estimates every component of --act at once.")
    var attribution: AttributionMethod?
    @Option(name: .long, parsing: .unconditional, help: "With --attribution: patch this many components with the largest estimates exactly and show both.")
    var topK = 10
    @Flag(name: .long, help: "With --attribution: patch every component exactly (not only the --top-k largest estimates).")
    var exactAll = false

    @Option(name: .long, parsing: .unconditional, help: "Prompt pairs per batch: pairs stream through in batches whose caches are freed after each, so memory does not grow with the dataset; results equal one run over all pairs.")
    var pairBatch = 32
    @Flag(name: .long, help: "No progress bar on stderr (there is none either when stderr is not a terminal).")
    var quiet = false

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    @OptionGroup var report: HTMLReportOption
    @OptionGroup var sharding: ShardOptions

    func validate() throws {
        let sources = [cleanTokens != nil || corruptTokens != nil, clean != nil || corrupt != nil, dataset != nil].filter { $0 }.count
        guard sources == 1 else {
            throw ValidationError("give the prompts one way: --clean-tokens/--corrupt-tokens, --clean/--corrupt, or --dataset")
        }
        guard (act == nil) != (pathReceivers == nil) else {
            throw ValidationError("give --act (activation patching) or --path-receivers (path patching)")
        }
        if pathSenders != nil, pathReceivers == nil { throw ValidationError("--path-senders needs --path-receivers") }
        if dataset == nil, answerId == nil && answer == nil || usesWrongToken && wrongId == nil && wrong == nil {
            throw ValidationError("give the answer and wrong tokens: --answer-id/--wrong-id or --answer/--wrong")
        }
        if attribution != nil {
            guard act != nil else { throw ValidationError("--attribution estimates the components of an --act family; give --act") }
            guard topK >= 0 else { throw ValidationError("--top-k \(topK): give 0 or more") }
        } else if exactAll {
            throw ValidationError("--exact-all checks attribution estimates; give --attribution atp or atp*")
        }
        guard pairBatch >= 1 else { throw ValidationError("--pair-batch \(pairBatch): give at least 1 pair per batch") }
        if sharding.shard != nil || sharding.shardFromEnv {
            if report.html != nil { throw ValidationError("a shard writes a partial result, not a report: give --html to `mechanic merge`") }
        }
    }

    var jsonOutput: Bool { json }

    func run() throws { try runLoading(model.load) }

    func result(model m: HookedTransformer, progress: WorkProgress?) throws -> CommandResult {
        let pairs = try loadPairs(m)
        let mode: PatchingMode = ablate.map { .ablate($0) } ?? .denoise
        let receivers = try pathReceivers.map { text in
            do { return try PathReceiver.parseList(text) } catch MechanicError.invalidArgument(let message) {
                throw MechanicError.invalidArgument("--path-receivers: \(message)")
            }
        }
        let senders = try pathSenders.map { try parseHeads($0, option: "--path-senders") }
        let kind = act
        if let method = attribution, let kind {
            return try runAttribution(m, pairs: pairs, mode: mode, kind: kind, method: method, progress: progress)
        }
        let shard = try sharding.resolved()
        // Outputs are written only after the sweep: Ctrl-C leaves nothing behind.
        let (result, partial) = try Interruptible.run(unit: "patches", quiet: quiet, progress: progress) { progress -> (PatchingResult, PatchingPartial?) in
            let sweep = try PatchingSweep(model: m, pairs: pairs, metric: metric, mode: mode,
                                          pairBatchSize: pairBatch, shard: shard)
            sweep.progress = progress
            if let receivers {
                if let senders { return (try sweep.pathPatchResult(senders: senders, receivers: receivers, freezeMLPs: freezeMlps), sweep.lastPartial) }
                return (try sweep.pathPatchEachHead(receivers: receivers, freezeMLPs: freezeMlps), sweep.lastPartial)
            }
            guard let kind else { throw MechanicError.invalidArgument("--act is missing or unknown") }
            return (try sweep.run(kind, neuronPositions: neuronPositions, engine: engine), sweep.lastPartial)
        }
        let context = PatchRenderContext(
            meta: (reportMeta(m, processed: !model.noProcessing) + reportInputs(pairs, model: m, mode: mode)).map { [$0.key, $0.value] },
            cleanPieces: pairs.first.map { m.pieceStrings($0.clean) }, corruptPieces: pairs.first.map { m.pieceStrings($0.corrupt) },
            tablePieces: Self.pieces(m, pairs[0].clean), pairs: pairs.count,
            senders: senders?.map(\.description), receivers: receivers?.map(\.description))
        if let shard, let partial {
            return try writePartial(partial, shard: shard, context: context, model: m, pairs: pairs)
        }
        return try emit(result, context)
    }

    /// Writes the report, prints the table (unless `--json`) and returns the JSON of a result —
    /// of this run, or of shards merged by `mechanic merge` (which re-parses this command).
    func emit(_ result: PatchingResult, _ c: PatchRenderContext) throws -> CommandResult {
        let mode = patchingMode
        try report.write(title: result.act.hasPrefix("path") ? "Path patching" : "Activation patching: \(result.act)",
                         meta: c.meta.map { (key: $0.first ?? "", value: $0.last ?? "") }, [
            PatchingReport(result: result, cleanTokens: c.cleanPieces, corruptTokens: c.corruptPieces,
                           mode: mode.description(pathPatching: c.receivers != nil), pairs: c.pairs,
                           senders: c.senders, receivers: c.receivers),
        ])
        // Values that mean nothing here are left out rather than printed as numbers.
        let out = CommandResult(try PatchResultJSON(
            result, mode: c.receivers != nil ? "path" : mode == .denoise ? "patch" : (ablate?.rawValue ?? ""), pairs: c.pairs,
            corruptedRun: hasCorruptedRun, logitDiffs: usesWrongToken || dataset != nil || wrongId != nil || wrong != nil,
            senders: c.senders, receivers: c.receivers))
        if !json { printTable(result, tokens: c.tablePieces, pairs: c.pairs, mode: mode, senders: c.senders, receivers: c.receivers) }
        return out
    }

    var patchingMode: PatchingMode { ablate.map { .ablate($0) } ?? .denoise }

    /// The report header's inputs: the prompts (or dataset), answer and wrong tokens, metric, mode.
    func reportInputs(_ pairs: [PatchingPair], model m: HookedTransformer, mode: PatchingMode) -> [(key: String, value: String)] {
        var out: [(key: String, value: String)] = []
        if let dataset { out.append(("dataset", "\(dataset) (\(pairs.count) pairs)")) }
        if let clean { out.append(("clean", clean)) }
        if let corrupt { out.append(("corrupted", corrupt)) }
        if let cleanTokens { out.append(("clean tokens", cleanTokens)) }
        if let corruptTokens { out.append(("corrupted tokens", corruptTokens)) }
        if dataset == nil, let p = pairs.first {
            out.append(("answer", "\(m.pieceString(p.answer).debugDescription) (id \(p.answer))"))
            out.append(("wrong", "\(m.pieceString(p.wrong).debugDescription) (id \(p.wrong))"))
        }
        out.append(("metric", metric.rawValue))
        if let act { out += [("mode", mode.description), ("act", act.rawValue)] }
        if act == nil { out.append(("path", "senders \(pathSenders ?? "each head") → \(pathReceivers ?? "")\(freezeMlps ? ", MLPs frozen" : "")")) }
        return out
    }

    /// The pairs from token ids, texts or a dataset file.
    func loadPairs(_ m: HookedTransformer) throws -> [PatchingPair] {
        let bos: Bool? = noBos ? false : nil
        if let dataset {
            return try PatchingDataset.load(URL(fileURLWithPath: dataset), tokenize: { try m.toTokens($0, prependBOS: bos) },
                                            singleToken: { try m.toSingleToken($0) })
        }
        let cleanIds: [Int], corruptIds: [Int]
        if clean != nil || corrupt != nil {
            guard let clean else { throw MechanicError.invalidArgument("--corrupt needs --clean") }
            cleanIds = try m.toTokens(clean, prependBOS: bos)
            // Zero/mean ablation only needs the clean prompt.
            corruptIds = try corrupt.map { try m.toTokens($0, prependBOS: bos) } ?? (needsCorrupt ? [] : cleanIds)
        } else {
            guard let cleanTokens else { throw MechanicError.invalidArgument("--corrupt-tokens needs --clean-tokens") }
            cleanIds = try parseTokenList(cleanTokens, option: "--clean-tokens")
            corruptIds = try corruptTokens.map { try parseTokenList($0, option: "--corrupt-tokens") } ?? (needsCorrupt ? [] : cleanIds)
        }
        guard !corruptIds.isEmpty else { throw MechanicError.invalidArgument("give the corrupted prompt (--corrupt-tokens or --corrupt)") }
        if cleanIds.count != corruptIds.count {
            let show = { (ids: [Int]) in Self.pieces(m, ids).joined(separator: " ") }
            throw MechanicError.invalidArgument("""
                the clean prompt has \(cleanIds.count) tokens but the corrupted prompt has \(corruptIds.count); patching needs equal lengths
                  clean:     \(show(cleanIds))
                  corrupted: \(show(corruptIds))
                """)
        }
        let a = try answerId ?? m.toSingleToken(answer ?? "")
        // Metrics without a wrong token (prob, loss, kl) never read it; the answer stands in.
        let w = try wrongId ?? wrong.map { try m.toSingleToken($0) } ?? a
        return [PatchingPair(clean: cleanIds, corrupt: corruptIds, answer: a, wrong: w)]
    }

    /// Whether the metric reads the wrong token (the logit differences); prob, loss and kl do not.
    var usesWrongToken: Bool { metric == .logitDiff || metric == .normalizedLogitDiff }

    /// Zero and mean ablation run the clean prompt only: there is no corrupted run to report.
    var hasCorruptedRun: Bool { ablate == nil || ablate == .resample || pathReceivers != nil }

    var needsCorrupt: Bool { ablate == nil || ablate == .resample || pathReceivers != nil }

    /// Each token as its quoted piece, or `#id` when the tokenizer cannot show it.
    static func pieces(_ m: HookedTransformer, _ ids: [Int]) -> [String] {
        let strings = m.pieceStrings(ids)
        return ids.enumerated().map { i, id in
            i < strings.count && !strings[i].isEmpty ? strings[i].debugDescription : "#\(id)"
        }
    }

    /// The human-readable report: a header, then the result as tables (2-D slices).
    func printTable(_ r: PatchingResult, tokens: [String], pairs: Int, mode: PatchingMode,
                    senders: [String]? = nil, receivers: [String]? = nil) {
        print("\(r.act) — \(mode.description(pathPatching: receivers != nil)), metric \(r.metric.rawValue)\(pairs > 1 ? ", mean over \(pairs) pairs" : "")")
        let logitDiffs = usesWrongToken || dataset != nil || wrongId != nil || wrong != nil
        if hasCorruptedRun {
            let source = ablate == .resample ? " (resample source)" : ""
            print(String(format: "clean %.4f   corrupted%@ %.4f", r.cleanMetric, source, r.corruptMetric)
                  + (logitDiffs ? String(format: "   (logit diff clean %.4f, corrupted %.4f)", r.cleanLogitDiff, r.corruptLogitDiff) : ""))
        } else {  // zero/mean ablation: only the clean run exists
            print(String(format: "clean (unablated) %.4f", r.cleanMetric)
                  + (logitDiffs ? String(format: "   (logit diff %.4f)", r.cleanLogitDiff) : ""))
        }
        if let senders { print("senders: " + senders.joined(separator: ", ")) }
        if let receivers { print("receivers: " + receivers.joined(separator: ", ")) }
        print("shape \(r.shape) = [\(r.axes.joined(separator: ", "))]")
        func label(_ axis: String, _ i: Int) -> String {
            switch axis {
            case "pos", "dest_pos", "src_pos": return i < tokens.count ? "\(i) \(tokens[i])" : "\(i)"
            case "layer": return "L\(i)"
            case "head", "head_index": return "H\(i)"
            case "patch_type":
                let names = r.act == "block_every" ? ["resid_pre", "attn_out", "mlp_out"] : ["out", "q", "k", "v", "pattern"]
                return i < names.count ? names[i] : "\(i)"
            default: return "\(i)"
            }
        }
        func table(_ t: Tensor, axes: [String], title: String) {
            if t.shape.isEmpty { print(title + String(format: "value %.4f", t.data.first ?? .nan)); return }
            if t.shape.count == 1 { table(t.reshaped([1] + t.shape), axes: [""] + axes, title: title); return }
            if t.shape.count > 2 {
                for i in 0..<t.shape[0] { table(t.slice0(i), axes: Array(axes.dropFirst()), title: title + "[\(label(axes[0], i))] ") }
                return
            }
            let (rows, cols) = (t.shape[0], t.shape[1])
            if !title.isEmpty { print(title) }
            if cols > 16 {
                // Too wide (neurons): the 10 largest effects per row, measured from the target run's metric.
                let base = mode == .denoise ? r.corruptMetric : r.cleanMetric
                for i in 0..<rows {
                    let row = EffectRanking.largestChanges(Array(t.data[(i * cols)..<((i + 1) * cols)]), from: base, count: 10)
                    print(label(axes[0], i) + ": " + row.map { "\(axes[1]) \($0.index) \(String(format: "%.4f", $0.value))" }.joined(separator: ", "))
                }
                return
            }
            let width = max(10, (0..<cols).map { label(axes[1], $0).count }.max() ?? 0) + 1
            let rowWidth = max(6, (0..<rows).map { label(axes[0], $0).count }.max() ?? 0) + 1
            func pad(_ s: String, _ w: Int) -> String { String(repeating: " ", count: max(0, w - s.count)) + s }
            print(pad("", rowWidth) + (0..<cols).map { pad(label(axes[1], $0), width) }.joined())
            for i in 0..<rows {
                print(pad(label(axes[0], i), rowWidth) + (0..<cols).map { pad(String(format: "%.4f", t.data[i * cols + $0]), width) }.joined())
            }
        }
        table(r.values, axes: r.axes, title: "")
    }
}
