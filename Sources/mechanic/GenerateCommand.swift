import ArgumentParser
import Foundation
import Mechanic

struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Continue a prompt with a key-value cache (sampling at temperature 1 by default, as TransformerLens; --temperature 0 is greedy).")

    @OptionGroup var model: ModelOptions
    @OptionGroup var input: PromptOptions

    @Option(name: .long, parsing: .unconditional, help: "Tokens to generate.")
    var maxNewTokens = 20

    @Option(name: .long, parsing: .unconditional, help: "Sampling temperature; 0 picks the most likely token.")
    var temperature: Float = 1

    @Option(name: .long, parsing: .unconditional, help: "Keep only the k most likely tokens.")
    var topK: Int?

    @Option(name: .long, parsing: .unconditional, help: "Keep the smallest set of tokens whose probability reaches p.")
    var topP: Float?

    @Option(name: .long, parsing: .unconditional, help: "Random seed (the same seed gives the same text).")
    var seed: UInt64 = 0

    func validate() throws {
        guard temperature >= 0, temperature.isFinite else {
            throw MechanicError.invalidArgument("--temperature must be a finite number ≥ 0 (0 is greedy), found \(temperature)")
        }
        if let p = topP, !(p > 0 && p <= 1) { throw MechanicError.invalidArgument("--top-p must be in (0, 1], found \(p)") }
        try requireAtLeast(1, topK, "--top-k")
        try requireAtLeast(0, maxNewTokens, "--max-new-tokens")
    }

    func run() throws {
        let m = try model.load()
        let ids = try input.ids(for: m)
        let sampling = SamplingOptions(temperature: temperature, topK: topK, topP: topP, seed: seed)
        let out = try m.generate(TokenBatch(ids), maxNewTokens: maxNewTokens, sampling: sampling)[0]
        if let tok = m.tokenizer {
            print(tok.decode(out))
        } else {
            print(out.map(String.init).joined(separator: ","))
        }
    }
}
