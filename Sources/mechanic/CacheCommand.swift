import ArgumentParser
import Foundation
import Mechanic

struct CacheCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cache",
        abstract: "Run a prompt and write every hook point's activation to a safetensors file.",
        discussion: "Each tensor is float32 under its TransformerLens name with the batch axis dropped, plus logits [pos, d_vocab] and tokens [pos] (int64).")

    @OptionGroup var model: ModelOptions
    @OptionGroup var input: PromptOptions

    @Option(name: .long, help: "Keep only hook names matching this regular expression (one that matches none is an error); a pattern that spells an optional point (result, q_input, k_input, v_input, attn_in, mlp_in) switches it on.")
    var names: String?

    @Flag(name: .long, help: "Also compute attn.hook_result [pos, head, d_model] (use_attn_result).")
    var attnResult = false

    @Flag(name: .long, help: "Also expose hook_q_input/hook_k_input/hook_v_input (use_split_qkv_input).")
    var splitQkvInput = false

    @Option(name: .long, help: "Output .safetensors file.")
    var out: String

    func run() throws {
        let output = try OutputFile(out, option: "--out")   // checked before any work; inputs are refused when written
        let m = try model.load()
        let ids = try input.ids(for: m)
        let options = HookOptions(attnResult: attnResult, splitQKVInput: splitQkvInput)
        let filter: NamesFilter = names.map { .regex($0) } ?? .all
        let (logits, cache) = try m.runWithCache(TokenBatch(ids), names: filter, hookOptions: options)
        let flat = try cache.removingBatchDim()
        var writer = SafeTensorsWriter()
        for name in flat.names { if let t = flat[name] { writer.add(name, t) } }
        writer.add("logits", logits.reshaped(Array(logits.shape.dropFirst())))  // [1, pos, vocab] -> [pos, vocab]
        writer.add("tokens", int64: ids)
        try writer.write(to: output)
        warn("wrote \(flat.names.count) hook points + logits + tokens for \(ids.count) positions to \(out)")
    }
}
