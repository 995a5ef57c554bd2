import ArgumentParser
import Foundation
import Mechanic
import MechanicAnalysis
import MechanicIO

struct NeuronsCommand: ModelCommand {
    static let configuration = CommandConfiguration(
        commandName: "neurons",
        abstract: "Top-activating dataset examples of a neuron or a hook direction over a corpus (Neuroscope-style).",
        discussion: """
        The corpus is a text file (one document per line, or paragraphs with --format paragraphs) or JSONL \
        ({"text": ...} or {"tokens": [ids]} per line). Documents are split into chunks of at most n_ctx tokens \
        (BOS + a slice), run up to the probe's layer only, and the best --top tokens are kept with their context.
        Examples:
          mechanic neurons --model gpt2 --neuron 5:1234 --corpus docs.txt
          mechanic neurons --model gpt2 --hook blocks.3.hook_resid_post --direction dir.json --corpus c.jsonl --html n.html
        """)

    @OptionGroup var model: ModelOptions

    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("An MLP neuron as LAYER:INDEX (blocks.LAYER.mlp.hook_post[..., INDEX]).", valueName: "layer:index"))
    var neuron: String?

    @Option(name: .long, help: "A hook point with a position axis (TransformerLens name or short name like resid_post with --layer).")
    var hook: String?

    @Option(name: .long, parsing: .unconditional, help: "Layer for a short --hook name.")
    var layer: Int?

    @Option(name: .long, parsing: .unconditional, help: "Component of --hook's activation per token (flattened over the axes after pos).")
    var index: Int?

    @Option(name: .long, help: ArgumentHelp("A direction for --hook: a JSON array of numbers, a text file of numbers, or a .safetensors file with one tensor.", valueName: "file"))
    var direction: String?

    @Option(name: .long, help: ArgumentHelp("The corpus file.", valueName: "file"))
    var corpus: String

    @Option(name: .long, help: "How the corpus splits into documents: lines, paragraphs or jsonl (default: jsonl for .jsonl files, else lines).")
    var format: CorpusFormat?

    @Option(name: .long, parsing: .unconditional, help: "How many examples to keep.")
    var top = 20

    @Flag(name: .long, help: "Keep the lowest values instead of the highest.")
    var lowest = false

    @Option(name: .long, parsing: .unconditional, help: "Tokens per chunk including BOS (default: min(n_ctx, 128)).")
    var chunk: Int?

    @Option(name: .long, parsing: .unconditional, help: "Chunks per forward pass.")
    var batch = 8

    @Option(name: .long, parsing: .unconditional, help: "Context tokens kept before / after each example, as BEFORE,AFTER.")
    var context = "12,4"

    @Option(name: .long, parsing: .unconditional, help: "Stop after this many documents.")
    var maxDocs: Int?

    @Option(name: .long, parsing: .unconditional, help: "Stop after this many tokens.")
    var maxTokens: Int?

    @Flag(name: .long, help: "Do not prepend BOS to each chunk.")
    var noBos = false

    @Flag(name: .long, help: "No progress bar on stderr.")
    var noProgress = false

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    @OptionGroup var report: HTMLReportOption

    @OptionGroup var sharding: ShardOptions

    func validate() throws {
        if sharding.shard != nil || sharding.shardFromEnv, report.html != nil {
            throw ValidationError("a shard writes a partial result, not a report: give --html to `mechanic merge`")
        }
        try requireAtLeast(1, top, "--top")
        try requireAtMost(1_000_000, top, "--top", "the examples are kept in memory with their context")
        try requireAtLeast(1, chunk, "--chunk")
        try requireAtLeast(1, batch, "--batch")
        try requireAtLeast(1, maxDocs, "--max-docs")
        try requireAtLeast(1, maxTokens, "--max-tokens")
        try requireAtLeast(0, layer, "--layer")
        try requireAtLeast(0, index, "--index")
        try requirePositions(batch: batch, length: min(chunk ?? 128, maxPositionsPerForward), "--batch and --chunk")
    }

    func probe(for m: HookedTransformer) throws -> ActivationProbe {
        if let neuron {
            guard hook == nil, direction == nil, index == nil else { throw ValidationError("--neuron cannot be combined with --hook/--index/--direction") }
            return try ActivationProbe(neuron: neuron)
        }
        guard let hook else { throw ValidationError("give --neuron LAYER:INDEX, or --hook with --index or --direction") }
        // A short per-layer name (resid_post, pre, pattern) names a hook point of every layer.
        if layer == nil, !actName(hook).contains("."), actName(hook, layer: 0).hasPrefix("blocks.") {
            throw MechanicError.invalidArgument("--hook \(hook) names a hook point of every layer; give --layer, e.g. --layer 0")
        }
        let name = actName(hook, layer: layer)
        switch (index, direction) {
        case let (i?, nil): return ActivationProbe(hook: name, readout: .component(i))
        case let (nil, path?): return .direction(hook: name, vector: try readDirection(path))
        default: throw ValidationError("--hook needs exactly one of --index and --direction")
        }
    }

    var jsonOutput: Bool { json }

    func run() throws { try runLoading(model.load) }

    func result(model m: HookedTransformer, progress: WorkProgress?) throws -> CommandResult {
        let probe = try probe(for: m)
        let ctx = try NeuronSearchOptions.parseContext(context)
        var reader = try CorpusReader(url: URL(fileURLWithPath: corpus), format: format)
        let bos = noBos || !m.config.defaultPrependBOS ? nil : m.bosTokenId
        let shard = try sharding.resolved()
        let options = NeuronSearchOptions(topK: top, order: lowest ? .lowest : .highest, chunkLength: chunk, batchSize: batch,
                                          bos: bos, contextBefore: ctx.before, contextAfter: ctx.after, maxDocuments: maxDocs, maxTokens: maxTokens,
                                          shard: shard)
        let bar = ProgressLine(enabled: !noProgress && progress == nil)
        let result = try m.topActivatingExamples(probe, corpus: &reader, options: options, progress: { p in
            bar.update(fraction: p.fraction, note: "\(ProgressBar.grouped(p.documents)) docs  \(ProgressBar.grouped(p.tokens)) tokens")
        })
        bar.finish(note: "\(ProgressBar.grouped(result.documents)) docs  \(ProgressBar.grouped(result.tokens)) tokens")
        let meta = reportMeta(m, processed: !self.model.noProcessing)
            + [("probe", probe.label), ("corpus", corpus), ("order", lowest ? "lowest" : "highest"), ("top", "\(top)")]
        if let shard { return try writePartial(result, shard: shard, meta: meta, model: m) }
        return try Self.emit(result, meta: meta, json: json, report: report)
    }

    /// Prints the text report unless `json`, writes `--html`, and returns the `--json` result: of
    /// this run, or of shards merged by `mechanic merge`.
    static func emit(_ result: NeuronSearchResult, meta: [(key: String, value: String)], json: Bool,
                     report: HTMLReportOption) throws -> CommandResult {
        if !json {
            print("\(result.probe.label): \(result.order == .highest ? "highest" : "lowest") \(result.examples.count) of \(ProgressBar.grouped(result.tokens)) tokens in \(ProgressBar.grouped(result.documents)) documents")
            print(String(format: "mean %.4g  std %.4g  min %.4g  max %.4g", result.stats.mean, result.stats.standardDeviation,
                         result.stats.minimum, result.stats.maximum))
            for (i, e) in result.examples.enumerated() {
                let text = e.strings.enumerated().map { j, s in j == e.focus ? "[[\(s)]]" : s }.joined()
                print(String(format: "%3d  %10.4f  doc %d:%d  ", i + 1, e.value, e.document, e.position) + text.debugDescription)
            }
        }
        try report.write {
            var r = Report(title: "Top activating examples — \(result.probe.label)", meta: meta)
            r.add(result)
            return r
        }
        return CommandResult(NeuronSearchJSON(result), report: result)
    }
}

/// Reads a direction: a JSON array, whitespace/comma-separated numbers, or a one-tensor safetensors file.
func readDirection(_ path: String) throws -> [Float] {
    let url = URL(fileURLWithPath: path)
    if url.pathExtension == "safetensors" {
        let file = try SafeTensorsFile(url: url)
        guard file.names.count == 1, let name = file.names.first else {
            throw MechanicError.invalidArgument("\(path) holds \(file.names.count) tensors (\(file.names.prefix(5).joined(separator: ", "))); a direction file must hold exactly one")
        }
        return try file.tensor(name).data
    }
    let data = try InputFile.read(path, what: "a direction file (JSON array of numbers)", limit: InputFile.textLimit)
    let text = String(decoding: data, as: UTF8.self)
    let parts = text.split { " \n\t\r,[]".contains($0) }
    let values = parts.compactMap { Float($0) }
    guard values.count == parts.count, !values.isEmpty else {
        throw MechanicError.invalidArgument("\(path): expected a list of numbers (JSON array or separated by spaces/commas)")
    }
    return values
}
