import ArgumentParser
import Mechanic
import MechanicAnalysis

struct HeadsDetect: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "detect", abstract: "detect_head scores of every head for one prompt.")

    @Argument(help: "previous_token, duplicate_token or induction (TransformerLens's *_head names work too).")
    var kind: HeadKind
    @OptionGroup var input: HeadsInput
    @OptionGroup var filter: HeadsFilter
    @Option(name: .long, help: "Error measure: mul (default) or abs.")
    var measure: ErrorMeasure = .mul
    @Flag(name: .long, help: "detect_head exclude_bos.")
    var excludeBos = false
    @Flag(name: .long, help: "detect_head exclude_current_token.")
    var excludeCurrentToken = false
    @OptionGroup var output: HeadsOutput

    func validate() throws { if !input.given { throw ValidationError("heads detect needs --prompt or --tokens") } }

    func run() throws {
        try output.emit(try output.runner(input, heads: filter.heads).detect(kind, options: HeadDetectionOptions(
            heads: try filter.list()?.map { ($0.layer, $0.head) }, excludeBOS: excludeBos, excludeCurrentToken: excludeCurrentToken, errorMeasure: measure)))
    }
}

struct HeadsInduction: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "induction", abstract: "Induction scores on repeated random tokens ([BOS] + r + r).")

    @OptionGroup var options: InductionOptions
    @OptionGroup var output: HeadsOutput

    func run() throws {
        try output.emit(try output.runner().induction(seqLen: options.seqLen, batch: options.batch, seed: options.seed, bos: options.bos, distinct: options.distinct))
    }
}

struct HeadsPattern: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pattern", abstract: "One head's attention pattern on a prompt.")

    @Argument(help: "The head: L9H6 (or 9.6).")
    var head: String
    @OptionGroup var input: HeadsInput
    @OptionGroup var output: HeadsOutput

    func validate() throws { if !input.given { throw ValidationError("heads pattern needs --prompt or --tokens") } }

    func run() throws { try output.emit(try output.runner(input).pattern(try HeadIndex.parsingOption(head, "heads pattern"))) }
}

struct HeadsCopyScores: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "copy-scores", abstract: "OV copy scores over the vocabulary.")

    @OptionGroup var copy: CopyOptions
    @OptionGroup var filter: HeadsFilter
    @OptionGroup var output: HeadsOutput

    func run() throws {
        try output.emit(try output.runner(heads: filter.heads).copyScores(embedding: copy.chosenEmbedding, topK: copy.topK ?? 1, heads: try filter.list()))
    }
}

struct HeadsMapping: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "mapping", abstract: "OV mapping scores over source → target token pairs.")

    @Argument(help: "JSON file of source → target token pairs.")
    var file: String
    @OptionGroup var copy: CopyOptions
    @OptionGroup var filter: HeadsFilter
    @OptionGroup var output: HeadsOutput

    func run() throws {
        try output.emit(try output.runner(heads: filter.heads).mapping(file: file, embedding: copy.chosenEmbedding, k: copy.topK ?? 5, heads: try filter.list()))
    }
}

struct HeadsComposition: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "composition", abstract: "All Q-, K- or V-composition scores.")

    @Argument(help: "Q, K or V.")
    var mode: CompositionMode
    @OptionGroup var output: HeadsOutput

    func run() throws { try output.emit(try output.runner().composition(mode)) }
}

struct HeadsNameMovers: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "name-movers",
        abstract: "Each head's direct effect on logit[answer] − logit[wrong] vs its attention to the answer.")

    @OptionGroup var input: HeadsInput
    @OptionGroup var answers: NameMoverOptions
    @OptionGroup var output: HeadsOutput

    func validate() throws {
        if !input.given { throw ValidationError("heads name-movers needs --prompt or --tokens") }
        try answers.checkGiven("heads name-movers")
    }

    func run() throws { try output.emit(try answers.run(try output.runner(input))) }
}
