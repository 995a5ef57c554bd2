import ArgumentParser
import Mechanic
import MechanicAnalysis

/// Parses `--heads L9H6,9.6,0:1` (one spelling of heads everywhere: `HeadIndex(parsing:)`),
/// naming the option in the error.
func parseHeads(_ text: String, option: String) throws -> [HeadIndex] {
    do { return try HeadIndex.parseList(text) } catch MechanicError.invalidArgument(let message) {
        throw MechanicError.invalidArgument("\(option): \(message)")
    }
}

/// `--prompt` / `--tokens` / `--no-bos` of the heads analyses that run a prompt.
struct HeadsInput: ParsableArguments {
    @Option(name: .long, help: "The prompt text (BOS prepended as model.to_tokens does).")
    var prompt: String?

    @Option(name: .long, parsing: .unconditional, help: "Comma-separated token ids, used exactly as given.")
    var tokens: String?

    @Flag(name: .long, help: "Do not prepend BOS to --prompt.")
    var noBos = false

    var given: Bool { prompt != nil || tokens != nil }

    func validate() throws {
        if prompt != nil && tokens != nil { throw ValidationError("give at most one of --prompt and --tokens") }
    }
}

/// `--model …`, `--json`, `--html`: every heads analysis.
struct HeadsOutput: ParsableArguments {
    @OptionGroup var modelOptions: ModelOptions

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    @OptionGroup var report: HTMLReportOption

    /// Prints `out` when `--json` was given (the text report is printed by the analysis).
    func emit(_ out: CommandResult) throws {
        if json { print(try out.json()) }
    }

    func runner(_ input: HeadsInput? = nil, heads: String? = nil) throws -> HeadsRunner {
        var r = try HeadsRunner(modelOptions, input: input, json: json, report: report)
        if let heads { r.meta.append(("heads", heads)) }
        return r
    }
}

/// `--heads`: restrict an analysis to some heads.
struct HeadsFilter: ParsableArguments {
    @Option(name: .long, parsing: .unconditional, help: "Only these heads, as L9H6,L9H9 (or 9.6 or 9:6; the others score −1).")
    var heads: String?

    func list() throws -> [HeadIndex]? { try heads.map { try parseHeads($0, option: "--heads") } }
}

/// Options of the OV-circuit copy and mapping scores.
struct CopyOptions: ParsableArguments {
    @Option(name: .long, help: "Token vectors fed to the OV circuits: direct (W_E), effective (W_E + MLP0(ln2(W_E))) or block0 (the token alone through block 0).")
    var embedding: CopyEmbedding = .direct

    @Flag(name: .long, help: "Same as --embedding effective.")
    var effectiveEmbedding = false

    @Option(name: .long, parsing: .unconditional, help: "Count a token when it is within the top k (default 1 for copy scores, 5 for mapping scores).")
    var topK: Int?

    var chosenEmbedding: CopyEmbedding { effectiveEmbedding ? .effective : embedding }

    func validate() throws {
        if let k = topK, k < 1 { throw ValidationError("--top-k must be at least 1") }
    }
}

/// The induction-score options.
struct InductionOptions: ParsableArguments {
    @Option(name: .long, parsing: .unconditional, help: "Length of the random sequence r (default min(50, (n_ctx − 1) / 2)).")
    var seqLen: Int?

    @Option(name: .long, parsing: .unconditional, help: "Random sequences to average over.")
    var batch = 4

    @Option(name: .long, parsing: .unconditional, help: "Random seed (SplitMix64; the same seed gives the same tokens everywhere).")
    var seed: UInt64 = 0

    @Flag(name: .long, help: "Draw the tokens of r without repetition.")
    var distinct = false

    @Option(name: .long, parsing: .unconditional, help: "BOS token id (default: the tokenizer's, else config.json's bos_token_id).")
    var bos: Int?

    func validate() throws {
        try requireAtLeast(1, batch, "--batch")
        try requireAtLeast(1, seqLen, "--seq-len")
        try requireAtLeast(0, bos, "--bos")
        // batch × [BOS + r + r] in one forward.
        try requirePositions(batch: batch, length: min(seqLen ?? 50, maxPositionsPerForward) * 2 + 1, "--batch and --seq-len")
    }
}

/// The answer and wrong tokens of the name-mover scatter.
struct NameMoverOptions: ParsableArguments {
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

    func checkGiven(_ option: String) throws {
        guard (answer != nil) != (answerId != nil), (wrong != nil) != (wrongId != nil) else {
            throw ValidationError("\(option) needs the answer (--answer or --answer-id) and the wrong token (--wrong or --wrong-id)")
        }
        try requireAtLeast(0, answerPos, "--answer-pos")
    }

    func run(_ r: HeadsRunner) throws -> CommandResult {
        let a = try answerId ?? r.m.toSingleToken(answer ?? "")
        let w = try wrongId ?? r.m.toSingleToken(wrong ?? "")
        return try r.nameMovers(answer: a, wrong: w, answerPos: answerPos)
    }
}

