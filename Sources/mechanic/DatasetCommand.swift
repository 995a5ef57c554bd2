import ArgumentParser
import Foundation
import Mechanic
import MechanicAnalysis

struct DatasetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dataset",
        abstract: "Make clean/corrupt prompt pairs for patching (JSON lines): IOI, your own templates, or your own pairs checked.",
        discussion: """
        Every pair kept has clean and corrupt prompts of the same token length and single-token answer and wrong \
        completions; the others are dropped and counted. Generation is seeded (SplitMix64): the same seed gives \
        the same file on every platform. Only the tokenizer files of --model are read. See docs/cli/dataset.md.
        """)

    @Option(name: .long, help: "A model or tokenizer directory (its tokenizer decides token counts and ids).")
    var model: String?

    @Option(name: .long, help: tokenizerOptionHelp)
    var tokenizer: String?

    @Option(name: .long, help: "Hub revision.")
    var revision: String?

    @Flag(name: .long, help: "Indirect-object-identification pairs from the built-in templates.")
    var ioi = false

    @Option(name: .long, help: "IOI name order: abba, baba or both.")
    var order: IOIDataset.Order = .both

    @Option(name: .long, help: "IOI corruption: abc (three fresh names, as the IOI paper) or swap (the two names exchanged).")
    var corruption: IOIDataset.Corruption = .abc

    @Option(name: .long, help: "A JSON template spec (templates with [SLOT]s, lists, answer, wrong, swap).")
    var spec: String?

    @Option(name: .long, help: "A JSON-lines file of pairs to tokenize and check ({clean, corrupt, answer, wrong} per line).")
    var input: String?

    @Option(name: .long, parsing: .unconditional, help: "Pairs to generate.")
    var count = 100

    @Option(name: .long, help: "Which lengths may mix: per-template (every pair of a template has one length; position-free patching kinds accept the dataset), one (every pair the same length; every kind does) or any.")
    var lengths: LengthPolicy = .perTemplate

    @Option(name: .long, parsing: .unconditional, help: "Random seed.")
    var seed: UInt64 = 0

    @Option(name: .long, parsing: .unconditional, help: "Give up after this many candidates (default max(100, 20 × count)).")
    var maxAttempts: Int?

    @Flag(name: .long, help: "Do not prepend BOS to the prompts' token ids.")
    var noBos = false

    @Option(name: .long, help: "Write the pairs here (default: stdout, with the report on stderr).")
    var out: String?

    @Flag(name: .long, help: "Print the report as JSON.")
    var json = false

    @OptionGroup var html: HTMLReportOption

    func validate() throws {
        guard [ioi, spec != nil, input != nil].filter({ $0 }).count == 1 else {
            throw ValidationError("choose exactly one of --ioi, --spec FILE, --input FILE")
        }
        try requireAtLeast(1, count, "--count")
        try requireAtMost(1_000_000, count, "--count", "every pair is kept in memory")
        try requireAtMost(100_000_000, maxAttempts, "--max-attempts", "beyond that a template that keeps nothing would run for hours")
        if let m = maxAttempts, m < 1 { throw ValidationError("--max-attempts must be ≥ 1") }
    }

    func run() throws {
        let output = try out.map { try OutputFile($0, option: "--out", inputs: [input, spec].compactMap { $0 }) }
        let (tok, dir) = try commandTokenizer(model: model, revision: revision, tokenizer: tokenizer)
        var prependBOS = true
        if let configURL = dir?.appendingPathComponent("config.json"), FileManager.default.fileExists(atPath: configURL.path) {
            prependBOS = try HookedTransformer.architectureConfig(HFConfig(url: configURL)).defaultPrependBOS
        }
        let tokenizer = PromptTokenizer.tokenizer(tok, prependBOS: prependBOS && !noBos)

        let result: (pairs: [PromptPair], report: DatasetReport)
        if let input {
            result = try PairGenerator.tokenize(PromptPairDraft.readJSONL(read(input, what: "a JSON-lines file of prompt pairs")),
                                                tokenizer: tokenizer)
        } else {
            let templates: PairTemplateSpec
            if let spec {
                templates = try PairTemplateSpec.parse(json: read(spec, what: "a JSON template spec"))
            } else {
                templates = IOIDataset.spec(order: order, corruption: corruption)
            }
            result = try PairGenerator.generate(templates, count: count, seed: seed, tokenizer: tokenizer, maxAttempts: maxAttempts,
                                                lengths: lengths)
        }

        let source = input.map { "pairs from \($0)" } ?? spec.map { "templates from \($0)" } ?? "IOI (order \(order.rawValue), corruption \(corruption.rawValue))"
        try html.write(title: "Prompt-pair dataset", meta: [("tokenizer", tok.source), ("source", source), ("count", "\(count)"), ("seed", "\(seed)"),
                                                            ("BOS", prependBOS && !noBos ? "prepended" : "not prepended")],
                       [PromptPairDataset(pairs: result.pairs, report: result.report)])
        let lines = PromptPair.jsonl(result.pairs)
        let report: String
        if json {
            report = try ResultJSON.string(result.report)
        } else {
            report = result.report.summary
        }
        // An empty dataset is a failure, not a result: the report (and --html) still show the drops,
        // nothing is written to --out, and the error says why every candidate was dropped.
        if result.pairs.isEmpty {
            if out != nil { print(report) } else { warn(report) }
            let r = result.report
            let reasons = r.dropped.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            let why = reasons.map { "\($0.value) \($0.key.rawValue)" }.joined(separator: ", ")
            let example = reasons.first.flatMap { r.examples[$0.key] }.map { " — e.g. \($0)" } ?? ""
            throw MechanicError.invalidArgument("no pair was kept: all \(r.attempts) candidate pairs were dropped (\(why.isEmpty ? "none checked" : why))\(example)")
        }
        if let output {
            try output.write(Data(lines.utf8))
            print(report)
        } else {
            FileHandle.standardOutput.write(Data(lines.utf8))
            warn(report)
        }
    }

    func read(_ path: String, what: String) throws -> Data {
        try InputFile.read(path, what: what, limit: InputFile.textLimit)
    }
}
