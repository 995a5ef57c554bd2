import ArgumentParser
import Foundation
import Mechanic
import MechanicAnalysis
import MechanicDemo

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the toolkit's workflow on a model whose circuits are known, and find its planted heads.",
        discussion: """
        Without --model, the demo builds a 2-layer attention-only transformer with hand-set weights: a previous-token \
        head (L0H0) whose output the keys of an induction head (L1H0) read (K-composition), plus four decoy heads. It \
        scores every head on repeated random tokens (previous-token, induction, duplicate-token, BOS), computes OV copy \
        scores, and on a prompt pair shows the activation differences, activation patching per head and per residual \
        position, and a logit lens. With --model it does the same on any supported model, with TransformerLens's IOI \
        prompt pair. See docs/cli/demo.md.
        Examples:
          mechanic demo --html demo.html
          mechanic demo --json
          mechanic demo --model gpt2 --html gpt2-demo.html
        """)

    @Option(name: .long, help: "A model directory, hub id or alias (default: the planted induction model).")
    var model: String?

    @Option(name: .long, help: "Hub revision when --model is a hub id.")
    var revision: String?

    @Flag(name: .long, help: "Load --model unprocessed.")
    var noProcessing = false

    @Option(name: .long, help: "Stream --model's blocks from the checkpoint: auto, on or off.")
    var streaming: StreamingMode = .auto

    @Option(name: .long, help: tokenizerOptionHelp)
    var tokenizer: String?

    @Option(name: .long, parsing: .unconditional, help: "Random tokens per half of the repeated sequence.")
    var seqLen = 20

    @Option(name: .long, parsing: .unconditional, help: "Repeated sequences scored.")
    var batch = 8

    @Option(name: .long, parsing: .unconditional, help: "Seed for the random tokens.")
    var seed: UInt64 = 0

    @Flag(name: .long, help: "Print the identified heads as JSON ({\"previous_token_heads\": [\"L0H0\"], \"induction_heads\": [\"L1H0\"], ...}).")
    var json = false

    @OptionGroup var report: HTMLReportOption

    func validate() throws {
        try requireAtLeast(1, seqLen, "--seq-len")
        try requireAtLeast(1, batch, "--batch")
        try requirePositions(batch: batch, length: min(seqLen, maxPositionsPerForward) * 2 + 1, "--batch and --seq-len")
    }

    func run() throws {
        let subject: DemoSubject
        if let model {
            let options = ModelOptions.parseOrExit(["--model", model] + (revision.map { ["--revision", $0] } ?? []) + (noProcessing ? ["--no-processing"] : [])
                                                  + ["--streaming", streaming.rawValue]
                                                  + (tokenizer.map { ["--tokenizer", $0] } ?? []))
            let m = try options.load()
            subject = Demo.modelSubject(m, name: model)
        } else {
            subject = try Demo.plantedSubject()
        }
        let result = try Demo.run(subject, options: DemoOptions(seqLen: seqLen, batch: batch, seed: seed))
        if json {
            try printResult(result.summary)
        } else {
            print("model: \(result.subjectName)")
            for (key, heads) in result.identified.sorted(by: { $0.key < $1.key }) {
                print("  \(key.replacingOccurrences(of: "_", with: " ")): \(heads.isEmpty ? "none" : heads.joined(separator: ", "))")
            }
            if !result.plantedHeads.isEmpty {
                print("  planted: " + result.plantedHeads.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value.joined(separator: ","))" }.joined(separator: "; "))
            }
            if let pair = result.pair {
                print(String(format: "  prompt pair metric: clean %.4g, corrupted %.4g", pair.cleanMetric, pair.corruptedMetric))
            }
            for note in result.notes { warn("note: \(note)") }
            if report.html == nil { print("(add --html demo.html for the full report)") }
        }
        try report.write {
            var r = Report(title: "mechanic demo — \(model ?? "planted induction model")",
                           meta: [("model", result.subjectName), ("layers × heads", "\(result.nLayers) × \(result.nHeads)"),
                                  ("repeated tokens", "\(result.options.batch) × 2 × \(result.seqLen)"), ("seed", "\(seed)")])
            r.add(result)
            return r
        }
    }
}
