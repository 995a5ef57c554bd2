// mechanic/Bench: `mechanic bench` subcommands (forward, patch, tokenizer, …); what they time
// lives in MechanicBench.

import ArgumentParser

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks (compare with TransformerLens through scripts/bench/*.sh, which run both in one go).",
        subcommands: [ForwardBench.self, LoadBench.self, PatchBench.self, AttributionBench.self, TokenizerBench.self, LargeModelBench.self,
                      PatchScaleBench.self, CircuitBench.self])
}
