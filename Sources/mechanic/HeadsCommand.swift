import ArgumentParser
import Foundation
import Mechanic
import MechanicAnalysis

/// `mechanic heads <analysis>`; the older one-command form (`mechanic heads --detect KIND …`)
/// still works and runs the same code.
struct HeadsCommand: ModelCommand {
    static let configuration = CommandConfiguration(
        commandName: "heads",
        abstract: "Attention-head analysis: detect_head scores, induction scores, attention patterns, OV copy and mapping scores, composition scores, name-mover scatter data.",
        discussion: """
        Pick one analysis: mechanic heads detect|induction|pattern|copy-scores|mapping|composition|name-movers \
        (the older flags --detect KIND, --induction, --pattern L:H, --copy-scores [--mapping FILE], --composition Q|K|V \
        and --name-movers still work). Heads are written L9H6 (or 9.6). `--model planted:induction` builds the \
        hand-written previous-token + induction model (PlantedInductionModel; its BOS token is 47). JSON keys are \
        listed in docs/cli/heads.md.
        """,
        subcommands: [HeadsDetect.self, HeadsInduction.self, HeadsPattern.self, HeadsCopyScores.self, HeadsMapping.self,
                      HeadsComposition.self, HeadsNameMovers.self])

    @OptionGroup var output: HeadsOutput
    @OptionGroup var input: HeadsInput
    @OptionGroup var filter: HeadsFilter

    @Option(name: .long, help: "detect_head pattern: previous_token, duplicate_token or induction (TransformerLens's *_head names work too).")
    var detect: HeadKind?

    @Option(name: .long, help: "detect_head error measure: mul (default) or abs.")
    var measure: ErrorMeasure = .mul

    @Flag(name: .long, help: "detect_head exclude_bos.")
    var excludeBos = false

    @Flag(name: .long, help: "detect_head exclude_current_token.")
    var excludeCurrentToken = false

    @Flag(name: .long, help: "Induction scores on repeated random tokens ([BOS] + r + r).")
    var induction = false

    @OptionGroup var inductionOptions: InductionOptions

    @Option(name: .long, parsing: .unconditional, help: "Print one head's attention pattern (L9H6, 9.6 or 9:6).")
    var pattern: String?

    @Flag(name: .long, help: "OV copy scores over the vocabulary (or over --mapping pairs).")
    var copyScores = false

    @Option(name: .long, help: "JSON file of source → target token pairs for --copy-scores.")
    var mapping: String?

    @OptionGroup var copy: CopyOptions

    @Option(name: .long, help: "All composition scores for mode Q, K or V.")
    var composition: CompositionMode?

    @Flag(name: .long, help: "Name-mover scatter: each head's direct effect on logit[answer] − logit[wrong] vs its attention to the answer.")
    var nameMovers = false

    @OptionGroup var answers: NameMoverOptions

    /// The older form's checks. They run in `run()`, not `validate()`: the parser validates this
    /// command on the way to a subcommand too, where none of these options is given.
    func checkOptions() throws {
        let modes = [detect != nil, induction, pattern != nil, copyScores, composition != nil, nameMovers].filter { $0 }.count
        guard modes == 1 else {
            throw ValidationError("choose an analysis: mechanic heads detect|induction|pattern|copy-scores|mapping|composition|name-movers "
                                  + "(or exactly one of --detect, --induction, --pattern, --copy-scores, --composition, --name-movers)")
        }
        if (detect != nil || pattern != nil || nameMovers) && !input.given {
            throw ValidationError("this analysis needs --prompt or --tokens")
        }
        if nameMovers { try answers.checkGiven("--name-movers") }
    }

    var jsonOutput: Bool { output.json }

    func run() throws {
        try checkOptions()
        try output.emit(try analyse(try output.runner(input, heads: filter.heads)))
    }

    func result(model: HookedTransformer, progress: WorkProgress?) throws -> CommandResult {
        try checkOptions()
        let options = output.modelOptions
        // The planted model's BOS, as the command line's runner finds it.
        let bos = options.model == "planted:induction" ? try PlantedInductionModel.build().bos : nil
        return try analyse(try HeadsRunner(model: model, plantedBOS: bos, options, input: input, json: output.json, report: output.report))
    }

    func analyse(_ r: HeadsRunner) throws -> CommandResult {
        if let detect {
            return try r.detect(detect, options: HeadDetectionOptions(heads: try filter.list()?.map { ($0.layer, $0.head) }, excludeBOS: excludeBos,
                                                                      excludeCurrentToken: excludeCurrentToken, errorMeasure: measure))
        } else if induction {
            let o = inductionOptions
            return try r.induction(seqLen: o.seqLen, batch: o.batch, seed: o.seed, bos: o.bos, distinct: o.distinct)
        } else if let pattern {
            return try r.pattern(try HeadIndex.parsingOption(pattern, "--pattern"))
        } else if copyScores, let mapping {
            return try r.mapping(file: mapping, embedding: copy.chosenEmbedding, k: copy.topK ?? 5, heads: try filter.list())
        } else if copyScores {
            return try r.copyScores(embedding: copy.chosenEmbedding, topK: copy.topK ?? 1, heads: try filter.list())
        } else if let composition {
            return try r.composition(composition)
        }
        return try answers.run(r)
    }
}

extension HeadIndex {
    /// One head from an option's value, the option named in the error.
    static func parsingOption(_ text: String, _ option: String) throws -> HeadIndex {
        guard let head = try parseHeads(text, option: option).first, !text.contains(",") else {
            throw MechanicError.invalidArgument("\(option) takes one head, e.g. L9H6, got '\(text)'")
        }
        return head
    }
}
