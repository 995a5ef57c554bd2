import ArgumentParser
import Foundation
import Mechanic
import MechanicAnalysis

struct CongruenceCommand: ModelCommand {
    static let configuration = CommandConfiguration(
        commandName: "congruence",
        abstract: "Similarity of token embeddings — raw W_E and after block 0 — with histograms over token pairs.",
        discussion: """
        The effective embedding runs each token alone through block 0 (positional embedding removed, so attention \
        sees only the token itself): mlp0 = blocks.0.hook_mlp_out, block0 = blocks.0.hook_resid_post. Each \
        unordered pair of distinct tokens is counted once.
        Examples:
          mechanic congruence --model gpt2 --sample 2000
          mechanic congruence --model gpt2 --words " cat, dog, car, truck" --html congruence.html
        """)

    @OptionGroup var model: ModelOptions

    @Option(name: .long, parsing: .unconditional, help: "Comma-separated token ids.")
    var tokens: String?

    @Option(name: .long, help: "Comma-separated strings, each a single token.")
    var words: String?

    @Option(name: .long, parsing: .unconditional, help: "Sample this many distinct tokens from the vocabulary (default 2000 when no tokens are given).")
    var sample: Int?

    @Flag(name: .long, help: "Use the whole vocabulary (n·(n−1)/2 pairs: slow for large vocabularies).")
    var all = false

    @Option(name: .long, help: "cosine or dot.")
    var metric: SimilarityMetric = .cosine

    @Option(name: .long, help: "Embedding kinds to compare, comma-separated: raw, mlp0, block0 (default raw,mlp0; raw,block0 for attention-only models).")
    var embedding: String?

    @Option(name: .long, parsing: .unconditional, help: "Histogram bins.")
    var bins = 50

    @Option(name: .long, parsing: .unconditional, help: "Seed for the token sample.")
    var seed: UInt64 = 0

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    @OptionGroup var report: HTMLReportOption

    func validate() throws {
        try requireAtLeast(1, sample, "--sample")
        try requireAtLeast(1, bins, "--bins")
        try requireAtMost(100_000, bins, "--bins", "each series stores every bin")
    }

    var jsonOutput: Bool { json }

    func run() throws { try runLoading(model.load) }

    func result(model m: HookedTransformer, progress: WorkProgress?) throws -> CommandResult {
        let metricValue = metric
        let kinds = try EmbeddingKind.parseList(embedding, attnOnly: m.config.attnOnly)
        let chosen = [tokens != nil, words != nil, sample != nil, all].filter { $0 }.count
        guard chosen <= 1 else { throw ValidationError("give at most one of --tokens, --words, --sample and --all") }
        var ids: [Int]
        if let tokens {
            ids = try parseTokenList(tokens, option: "--tokens")
        } else if let words {
            ids = try words.split(separator: ",").map { try m.toSingleToken(String($0)) }
        } else if all {
            ids = Array(0..<m.config.dVocab)
        } else {
            ids = TokenSample.draw(count: sample ?? 2000, from: m.config.dVocab, seed: seed)
        }
        let result = try m.congruence(tokens: ids, kinds: kinds, options: CongruenceOptions(metric: metricValue, bins: bins, seed: seed))
        if !json {
            print("\(result.tokens.count) tokens, \(result.tokens.count * (result.tokens.count - 1) / 2) pairs, \(metric.rawValue)")
            for s in result.series {
                print("\n\(s.kind.title): mean \(HTMLText.format(s.stats.mean))  std \(HTMLText.format(s.stats.standardDeviation))  min \(HTMLText.format(s.stats.minimum))  max \(HTMLText.format(s.stats.maximum))")
                let peak = max(s.histogram.counts.max() ?? 1, 1)
                let edges = s.histogram.edges
                for (i, c) in s.histogram.counts.enumerated() where c > 0 {
                    let bar = String(repeating: "█", count: Int((Double(c) / Double(peak) * 40).rounded(.up)))
                    print(String(format: "  %9.4f … %9.4f  %9d  ", edges[i], edges[i + 1], c) + bar)
                }
                print("  most similar: " + s.mostSimilar.prefix(8).map { "\(result.strings[$0.a].debugDescription)/\(result.strings[$0.b].debugDescription) \(HTMLText.format($0.value))" }.joined(separator: ", "))
            }
        }
        try report.write {
            var r = Report(title: "Token congruence — \(metric.rawValue)",
                           meta: reportMeta(m, processed: !self.model.noProcessing) + [("tokens", "\(result.tokens.count)"), ("metric", metric.rawValue),
                                                                                  ("embeddings", kinds.map(\.rawValue).joined(separator: ", ")), ("bins", "\(bins)"),
                                                                                  ("seed", "\(seed)")])
            r.add(result)
            return r
        }
        return CommandResult(CongruenceJSON(result))
    }
}
