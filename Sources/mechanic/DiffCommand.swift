import ArgumentParser
import Foundation
import Mechanic
import MechanicAnalysis

struct DiffCommand: ModelCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Activation differences between two prompts (or the means of two prompt sets), component by component.",
        discussion: """
        Examples:
          mechanic diff --model gpt2 "Save the baby" "Save the adult"
          mechanic diff --model gpt2 --a " father" --a " dad" --b " mother" --b " mom" --verify 5
          mechanic diff --model PATH --a-tokens 50256,464,3797 --b-tokens 50256,464,3290 --json
        Every cached hook is compared at the final real token of each prompt (or --pos): ‖a−b‖, ‖a−b‖/‖a‖ and \
        cos(a, b), ranked. Residual-stream and output differences are unembedded: centered (LayerNorm), divided \
        by the first side's cached ln_final scale, times the final norm's weight if unfolded, then W_U (no b_U). \
        --verify N patches the N top-ranked components from A into B and reports the fraction of \
        logit[answer] − logit[wrong] each restores (default: A's and B's top predictions). JSON keys: docs/cli/diff.md.
        """)

    @OptionGroup var model: ModelOptions

    @Argument(help: "Two prompts: A and B.")
    var prompts: [String] = []

    @Option(name: .customLong("a"), help: "A prompt of side A (repeat for a set; the mean is compared).")
    var aPrompts: [String] = []

    @Option(name: .customLong("b"), help: "A prompt of side B (repeat for a set).")
    var bPrompts: [String] = []

    @Option(name: .customLong("a-tokens"), parsing: .unconditionalSingleValue, help: "Side A as comma-separated ids, run as given (repeatable).")
    var aTokens: [String] = []

    @Option(name: .customLong("b-tokens"), parsing: .unconditionalSingleValue, help: "Side B as comma-separated ids (repeatable).")
    var bTokens: [String] = []

    @Flag(name: .long, help: "Do not prepend BOS to text prompts (applies to both sides).")
    var noBos = false

    @Option(name: .long, parsing: .unconditional, help: "Compare at this index of every prompt (negative counts from each end); default: the final token.")
    var pos: Int?

    @Option(name: .long, parsing: .unconditional, help: "Tokens listed up and down per unembedded difference.")
    var top = 10

    @Option(name: .long, parsing: .unconditional, help: "Components listed in the text report.")
    var show = 20

    @Option(name: .long, help: "relative | norm | angle.")
    var rankBy: DiffRanking = .relativeNorm

    @Option(name: .long, parsing: .unconditional, help: "Patch this many top-ranked components from A into B and report the logit difference each restores.")
    var verify = 0

    @OptionGroup var answer: AnswerOptions

    @Option(name: .long, parsing: .unconditional, help: "The wrong token for --verify (text, one token).")
    var wrong: String?

    @Option(name: .long, parsing: .unconditional, help: "The wrong token id for --verify.")
    var wrongId: Int?

    @Flag(name: .long, help: "No progress bar on stderr during --verify (there is none either when stderr is not a terminal).")
    var quiet = false

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    @OptionGroup var html: HTMLReportOption

    @OptionGroup var sharding: ShardOptions

    func validate() throws {
        if sharding.shard != nil || sharding.shardFromEnv {
            if html.html != nil { throw ValidationError("a shard writes a partial result, not a report: give --html to `mechanic merge`") }
            if verify > 0 { throw ValidationError("--verify patches the top components of the merged ranking: give it to an unsharded run, not to a shard") }
        }
        let textSides = !aPrompts.isEmpty || !bPrompts.isEmpty
        let idSides = !aTokens.isEmpty || !bTokens.isEmpty
        let modes = [!prompts.isEmpty, textSides, idSides].filter { $0 }.count
        guard modes == 1 else { throw ValidationError("give two prompts, or --a/--b prompts, or --a-tokens/--b-tokens (one way)") }
        if !prompts.isEmpty && prompts.count != 2 { throw ValidationError("give exactly two prompts (A and B), got \(prompts.count)") }
        if textSides && (aPrompts.isEmpty || bPrompts.isEmpty) { throw ValidationError("give at least one --a and one --b") }
        if idSides && (aTokens.isEmpty || bTokens.isEmpty) { throw ValidationError("give at least one --a-tokens and one --b-tokens") }
        if wrong != nil && wrongId != nil { throw ValidationError("give at most one of --wrong and --wrong-id") }
        try requireAtLeast(1, top, "--top")
        try requireAtLeast(1, show, "--show")
        try requireAtLeast(0, verify, "--verify")
    }

    var jsonOutput: Bool { json }

    func run() throws { try runLoading(model.load) }

    func result(model m: HookedTransformer, progress: WorkProgress?) throws -> CommandResult {
        let (a, b, texts) = try sides(m)
        if let shard = try sharding.resolved() {
            let sums = try ActivationDiff.sums(model: m, a: a, b: b, position: pos.map { .index($0) } ?? .final, shard: shard, progress: progress)
            return try writePartial(sums, shard: shard, model: m, a: a, b: b)
        }
        return try emit(model: m, a: a, b: b, texts: texts, sums: nil, progress: progress)
    }

    /// The two sides' token ids (and texts, when given as text).
    func sides(_ m: HookedTransformer) throws -> (a: [[Int]], b: [[Int]], texts: (a: [String], b: [String])?) {
        var a: [[Int]], b: [[Int]], texts: (a: [String], b: [String])?
        if !aTokens.isEmpty {
            a = try aTokens.map { try parseTokenList($0, option: "--a-tokens") }
            b = try bTokens.map { try parseTokenList($0, option: "--b-tokens") }
        } else {
            let (ta, tb) = prompts.isEmpty ? (aPrompts, bPrompts) : ([prompts[0]], [prompts[1]])
            let bos: Bool? = noBos ? false : nil  // one rule for both sides
            a = try ta.map { try m.toTokens($0, prependBOS: bos) }
            b = try tb.map { try m.toTokens($0, prependBOS: bos) }
            texts = (ta, tb)
        }
        return (a, b, texts)
    }

    /// Runs the diff (from `sums` when given: the merged sums of a sharded run), writes `--html`,
    /// prints the text report unless `--json`, and returns the `--json` result.
    func emit(model m: HookedTransformer, a: [[Int]], b: [[Int]], texts: (a: [String], b: [String])?, sums: DiffSums?,
              progress: WorkProgress?) throws -> CommandResult {
        let wrongToken: Int? = try wrongId ?? wrong.map { try m.toSingleToken($0) }
        let answerId = try answer.id(for: m)
        let position: DiffPosition = pos.map { .index($0) } ?? .final
        func diff(_ progress: WorkProgress?) throws -> ActivationDiffReport {
            try ActivationDiff.report(model: m, a: a, b: b, texts: texts,
                                      sums: try sums ?? ActivationDiff.sums(model: m, a: a, b: b, position: position, progress: progress),
                                      position: position, top: top, rankBy: rankBy, verify: verify, answer: answerId, wrong: wrongToken,
                                      progress: progress)
        }
        // --verify patches: a progress bar, and Ctrl-C stops before anything is written.
        let report = verify > 0 ? try Interruptible.run(unit: "patches", quiet: quiet, progress: progress, diff) : try diff(progress)
        var meta = reportMeta(m, processed: !self.model.noProcessing)
        for (name, side, given) in [("A", a, texts?.a), ("B", b, texts?.b)] {
            meta.append((name, given.map { $0.map(\.debugDescription).joined(separator: ", ") }
                            ?? side.map { $0.map(String.init).joined(separator: ",") }.joined(separator: " | ")))
        }
        meta += [("position", pos.map(String.init) ?? "final token"), ("rank by", rankBy.rawValue), ("verify", "\(verify)")]
        try html.write(title: "Activation differences", meta: meta, [report])
        if !json { printText(report) }
        return CommandResult(report, keys: .snakeCase, report: report)
    }

    func printText(_ r: ActivationDiffReport) {
        for w in r.warnings { warn("warning: " + w) }
        for (side, name) in [(r.a, "A"), (r.b, "B")] {
            for (i, pieces) in side.strTokens.enumerated() {
                let marked = pieces.enumerated().map { $0.offset == side.positions[i] ? "[\($0.element.debugDescription)]" : $0.element.debugDescription }
                print("\(name)\(side.strTokens.count > 1 ? "\(i + 1)" : ""): " + marked.joined(separator: " "))
            }
        }
        let tokens = { (ts: [DiffToken]?) in (ts ?? []).prefix(5).map { $0.token.debugDescription }.joined(separator: " ") }
        print("\nby layer (‖a−b‖, ‖a−b‖/‖a‖, cos; unembedded up | down):")
        for c in r.byLayer {
            print("  " + padded(c.label) + String(format: " %9.4f %8.4f %7.4f  ", Double(c.norm), Double(c.relativeNorm ?? .nan), Double(c.cosine ?? .nan))
                  + (c.noDifference ? "no difference" : c.up == nil ? "" : "\(tokens(c.up)) | \(tokens(c.down))"))
        }
        print("\ntop \(min(show, r.components.count)) of \(r.components.count) components by \(r.rankBy.rawValue):")
        for c in r.components.prefix(show) {
            print("  " + padded(c.label) + String(format: " %9.4f %8.4f %7.4f", Double(c.norm), Double(c.relativeNorm ?? .nan), Double(c.cosine ?? .nan)))
        }
        if !r.skipped.isEmpty { print("\nskipped: " + r.skipped.joined(separator: "; ")) }
        if let v = r.verification {
            print(String(format: "\nverify: logit[%@] − logit[%@] is %.4f in A and %.4f in B; patching A → B:",
                         v.answerToken.debugDescription, v.wrongToken.debugDescription, Double(v.metricA), Double(v.metricB)))
            for p in v.results {
                print("  " + padded(p.label) + String(format: " patched %9.4f  restores ", Double(p.patchedMetric))
                      + (p.fractionRestored.map { String(format: "%.1f%%", 100 * Double($0)) } ?? "n/a"))
            }
        }
        print("\nsummary:")
        for line in r.summary { print("  " + line) }
    }
}

/// `label` left-aligned in a column wide enough for `blocks.NN.ln2.hook_normalized`.
private func padded(_ label: String) -> String { label.padding(toLength: max(32, label.count), withPad: " ", startingAt: 0) }

extension DiffRanking: ExpressibleByArgument {}
