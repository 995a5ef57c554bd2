import ArgumentParser
import Foundation
import Mechanic
import MechanicAnalysis

extension CircuitMethod: ExpressibleByArgument {}

struct CircuitCommand: ModelCommand {
    static let configuration = CommandConfiguration(
        commandName: "circuit",
        abstract: "Automatic circuit discovery on MIB's edge graph: EAP, EAP-IG or exact ACDC, with exact faithfulness.",
        discussion: """
        Examples:
          mechanic circuit --model gpt2 --dataset ioi.jsonl --method eap --top-n 200 --evaluate --html circuit.html
          mechanic circuit --model gpt2 --dataset ioi.jsonl --method acdc --threshold 0.01 --json > circuit.json
        Nodes: input, a{L}.h{H}, m{L}, logits; edges such as a0.h1->a3.h4<q>, m2->a5.h0<v>, input->m0, a11.h9->logits. \
        eap / eap-ig score each edge by Σ (u_corrupt − u_clean)·∂(metric)/∂(v's input), metric = --eap-metric (logit_diff, \
        prob or loss); --top-n (default 50; never a zero score) or --threshold (|score|) choose the circuit; they shard by \
        pairs (--shard K/N --out PART, then `mechanic merge`). acdc removes, in reverse topological order, every edge whose \
        patching changes the loss (--acdc-metric kl or logit_diff) by less than --threshold (default 0.01). \
        --json prints MIB's format {cfg, nodes, edges} plus method, metric, notes, evaluation. See docs/cli/circuit.md.
        """)

    @OptionGroup var model: ModelOptions

    @Option(name: .long, help: "JSON-lines file of {\"clean\", \"corrupt\", \"answer\", \"wrong\"} pairs (texts or ids), e.g. from `mechanic dataset`.")
    var dataset: String?
    @Option(name: .long, parsing: .unconditional, help: "One pair: clean prompt as comma-separated token ids.")
    var cleanTokens: String?
    @Option(name: .long, parsing: .unconditional, help: "One pair: corrupted prompt as comma-separated token ids (same length).")
    var corruptTokens: String?
    @Option(name: .long, parsing: .unconditional, help: "With --clean-tokens: the answer token id.")
    var answerId: Int?
    @Option(name: .long, parsing: .unconditional, help: "With --clean-tokens: the wrong token id.")
    var wrongId: Int?
    @Flag(name: .long, help: "Do not prepend BOS when tokenizing dataset texts.")
    var noBos = false

    @Option(name: .long, help: "eap | eap-ig | acdc.")
    var method: CircuitMethod = .eap
    @Option(name: .long, parsing: .unconditional, help: "EAP-IG: interpolation steps of the input embeddings.")
    var igSteps = 5
    @Option(name: .long, parsing: .unconditional, help: "EAP/EAP-IG: the circuit is this many edges with the largest |score| (default 50).")
    var topN: Int?
    @Option(name: .long, parsing: .unconditional, help: "EAP/EAP-IG: keep edges with |score| ≥ this; ACDC: the removal threshold τ (default 0.01).")
    var threshold: Double?
    @Option(name: .long, help: "ACDC's metric: kl or logit_diff.")
    var acdcMetric: PatchingMetric = .kl
    @Option(name: .long, help: "EAP/EAP-IG's metric: logit_diff, prob (p(answer)) or loss (−log p(answer)); kl is refused (its gradient at the clean run is 0).")
    var eapMetric: PatchingMetric = .logitDiff
    @Flag(name: .long, help: "Faithfulness of the circuit and MIB's CPR/CMD over the top 0.1% … 100% of edges (exact patched runs).")
    var evaluate = false
    @Flag(name: .long, help: "No progress bar on stderr.")
    var quiet = false
    @Flag(name: .long, help: "Print JSON (MIB's circuit format).")
    var json = false
    @OptionGroup var report: HTMLReportOption
    @OptionGroup var sharding: ShardOptions

    func validate() throws {
        guard (dataset != nil) != (cleanTokens != nil) else { throw ValidationError("give --dataset FILE or --clean-tokens/--corrupt-tokens") }
        if cleanTokens != nil, corruptTokens == nil || answerId == nil || wrongId == nil {
            throw ValidationError("--clean-tokens needs --corrupt-tokens, --answer-id and --wrong-id")
        }
        if method == .acdc, topN != nil { throw ValidationError("--top-n applies to eap and eap-ig; ACDC's circuit is set by --threshold") }
        if sharding.shard != nil || sharding.shardFromEnv {
            if method == .acdc { throw ValidationError("ACDC cannot be sharded: each edge decision needs the metric over every pair after the decisions before it; run it without --shard") }
            if evaluate { throw ValidationError("--evaluate cannot be sharded: faithfulness patches the chosen circuit on every pair; run `circuit --evaluate` without --shard") }
            if report.html != nil { throw ValidationError("a shard writes a partial result, not a report: give --html to `mechanic merge`") }
        }
    }

    var jsonOutput: Bool { json }

    func run() throws { try runLoading(model.load) }

    /// The run on a loaded model (the command line and `POST /api/circuit` alike): a shard's
    /// partial file, or the circuit.
    func result(model m: HookedTransformer, progress: WorkProgress?) throws -> CommandResult {
        let pairs: [PatchingPair]
        if let dataset {
            let bos: Bool? = noBos ? false : nil
            pairs = try PatchingDataset.load(URL(fileURLWithPath: dataset), tokenize: { try m.toTokens($0, prependBOS: bos) },
                                             singleToken: { try m.toSingleToken($0) })
        } else {
            pairs = [PatchingPair(clean: try parseTokenList(cleanTokens ?? "", option: "--clean-tokens"),
                                  corrupt: try parseTokenList(corruptTokens ?? "", option: "--corrupt-tokens"),
                                  answer: answerId ?? 0, wrong: wrongId ?? 0)]
        }
        let options = CircuitOptions(method: method, igSteps: igSteps, topN: topN, threshold: threshold, acdcMetric: acdcMetric, eapMetric: eapMetric, evaluate: evaluate)
        let unit = method == .acdc ? "edge tests" : "passes"
        let meta = reportMeta(m, processed: !model.noProcessing) + [("pairs", dataset.map { "\($0) (\(pairs.count) pairs)" } ?? "1 pair")]
        if let shard = try sharding.resolved() {
            let partial = try Interruptible.run(unit: unit, quiet: quiet, progress: progress) { p in
                try CircuitDiscovery.partial(model: m, pairs: pairs, options: options, shard: shard, progress: p)
            }
            let written = try writePartial(partial, shard: shard, meta: meta, model: m, pairs: pairs)
            if !json { warn(written.sentence) }
            return CommandResult(written)
        }
        let result = try Interruptible.run(unit: unit, quiet: quiet, progress: progress) { p in
            try CircuitDiscovery.run(model: m, pairs: pairs, options: options, progress: p)
        }
        return try emit(result, meta: meta)
    }

    /// Writes the report, prints the text (unless `--json`) and returns the JSON result — of this
    /// run, or of shards merged by `mechanic merge` (which re-parses this command).
    func emit(_ result: CircuitResult, meta: [(key: String, value: String)]) throws -> CommandResult {
        try report.write(title: "Circuit (\(method.rawValue))", meta: meta, [result])
        if json { return CommandResult(result) }
        let kept = result.rankedEdges.filter(\.entry.inGraph)
        print("\(method.rawValue): \(kept.count) of \(result.edges.count) edges in the circuit, \(result.pairs) pair\(result.pairs == 1 ? "" : "s")")
        for note in result.notes { print("  " + note) }
        if let e = result.evaluation {
            print(String(format: "faithfulness %.4f   CPR %.4f   CMD %.4f   (logit diff: clean %.4f, circuit %.4f, all patched %.4f)",
                         e.faithfulness, e.cpr, e.cmd, e.cleanMetric, e.circuitMetric, e.emptyMetric))
        }
        for (name, entry) in kept.prefix(30) { print(String(format: "  %@  %+.5f", name.padding(toLength: 28, withPad: " ", startingAt: 0), entry.score)) }
        if kept.count > 30 { print("  … \(kept.count - 30) more (--json for all)") }
        return CommandResult(result)
    }
}
