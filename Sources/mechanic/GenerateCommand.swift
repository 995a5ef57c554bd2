import ArgumentParser
import Foundation
import Mechanic

struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Continue a prompt with a key-value cache (sampling at temperature 1 by default, as TransformerLens; --temperature 0 is greedy).")

    @OptionGroup var model: ModelOptions
    @OptionGroup var input: PromptOptions

    @Option(name: .long, help: "Tokens to generate.")
    var maxNewTokens = 20

    @Option(name: .long, help: "Sampling temperature; 0 picks the most likely token.")
    var temperature: Float = 1

    @Option(name: .long, help: "Keep only the k most likely tokens.")
    var topK: Int?

    @Option(name: .long, help: "Keep the smallest set of tokens whose probability reaches p.")
    var topP: Float?

    @Option(name: .long, help: "Random seed (the same seed gives the same text).")
    var seed: UInt64 = 0

    func validate() throws {
        guard temperature >= 0 else { throw ValidationError("--temperature must be ≥ 0") }
        if let p = topP, !(p > 0 && p <= 1) { throw ValidationError("--top-p must be in (0, 1]") }
        if let k = topK, k < 1 { throw ValidationError("--top-k must be ≥ 1") }
        guard maxNewTokens >= 0 else { throw ValidationError("--max-new-tokens must be ≥ 0") }
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
