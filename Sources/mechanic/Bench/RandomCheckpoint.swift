import ArgumentParser
import Foundation
import Mechanic

/// Writes checkpoints of random weights with the project's own safetensors writer, for benchmarks.
/// The model and prompt pairs of the patching benchmarks (`bench patch`, `bench atp`).
struct BenchPairOptions: ParsableArguments {
    @Option(help: "Where to write (or reuse) the random checkpoint.")
    var dir = "/tmp/mechanic-bench/gpt2-random"

    @Option(help: "Prompt pairs.")
    var pairs = 10

    @Option(help: "Tokens per prompt.")
    var seq = 15

    @Option(help: "Stream the blocks from the checkpoint: auto, on or off.")
    var streaming: StreamingMode = .auto
}

enum RandomCheckpoint {
    /// The GPT-2-small-shaped random checkpoint in `dir` (written first when missing), as the URL.
    static func gpt2Directory(_ dir: String) throws -> URL {
        let url = URL(fileURLWithPath: dir)
        if !FileManager.default.fileExists(atPath: url.appendingPathComponent("model.safetensors").path) {
            try requireNewOrEmpty(url, option: "--dir")
            warn("writing a random GPT-2-small-shaped checkpoint to \(dir) …")
            try gpt2(at: url)
        }
        return url
    }

    /// A random checkpoint is written only into a directory that does not exist yet or is empty:
    /// never over a real model's config.json or next to other files.
    static func requireNewOrEmpty(_ url: URL, option: String) throws {
        switch FileIdentity.inspect(url.path).kind {
        case .missing: return
        case .directory:
            let names = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
            guard names.isEmpty else {
                throw MechanicError.invalidArgument("\(option) \(url.path) is not empty and holds no benchmark checkpoint; give a new or empty directory (nothing was changed)")
            }
        case let kind:
            throw MechanicError.invalidArgument("\(option) \(url.path) is \(kind.phrase), not a directory")
        }
    }

    /// A GPT-2-shaped Hugging Face directory (config.json + model.safetensors), N(0, 0.02) weights.
    static func gpt2(at dir: URL, layers: Int = 12, dModel: Int = 768, heads: Int = 12, vocab: Int = 50257,
                     nCtx: Int = 1024, seed: UInt64 = 1) throws {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var rng = SplitMix64(seed: seed)
        func randn(_ shape: [Int], std: Float = 0.02, mean: Float = 0) -> Tensor {
            Tensor(shape: shape) { buf in
                for i in buf.indices {
                    // Irwin–Hall approximation of a normal: fast and good enough for weights.
                    var s: Float = 0
                    for _ in 0..<4 { s += Float(rng.next() >> 40) / Float(1 << 24) }
                    buf[i] = mean + std * (s - 2) * 1.7320508
                }
            }
        }
        var w = SafeTensorsWriter()
        let D = dModel
        w.add("wte.weight", randn([vocab, D]))
        w.add("wpe.weight", randn([nCtx, D], std: 0.01))
        for l in 0..<layers {
            let p = "h.\(l)."
            w.add(p + "ln_1.weight", randn([D], std: 0.05, mean: 1)); w.add(p + "ln_1.bias", randn([D]))
            w.add(p + "attn.c_attn.weight", randn([D, 3 * D])); w.add(p + "attn.c_attn.bias", randn([3 * D]))
            w.add(p + "attn.c_proj.weight", randn([D, D])); w.add(p + "attn.c_proj.bias", randn([D]))
            w.add(p + "ln_2.weight", randn([D], std: 0.05, mean: 1)); w.add(p + "ln_2.bias", randn([D]))
            w.add(p + "mlp.c_fc.weight", randn([D, 4 * D])); w.add(p + "mlp.c_fc.bias", randn([4 * D]))
            w.add(p + "mlp.c_proj.weight", randn([4 * D, D])); w.add(p + "mlp.c_proj.bias", randn([D]))
        }
        w.add("ln_f.weight", randn([D], std: 0.05, mean: 1)); w.add("ln_f.bias", randn([D]))
        try w.write(to: dir.appendingPathComponent("model.safetensors"))
        let config: [String: Any] = [
            "model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_embd": D, "n_layer": layers, "n_head": heads,
            "n_positions": nCtx, "n_ctx": nCtx, "vocab_size": vocab, "activation_function": "gelu_new",
            "layer_norm_epsilon": 1e-5, "tie_word_embeddings": true,
        ]
        let data = try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: dir.appendingPathComponent("config.json"))
    }
}

extension RandomCheckpoint {
    /// A Llama-2-7B-shaped checkpoint in two bf16 shards + index, written tensor by tensor
    /// (nothing larger than one tensor is ever in memory).
    static func llama(at dir: URL, layers: Int = 32, dModel: Int = 4096, heads: Int = 32, dMLP: Int = 11008,
                      vocab: Int = 32000, seed: UInt64 = 5) throws {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let D = dModel
        var tensors: [(String, [Int], Float)] = [("model.embed_tokens.weight", [vocab, D], 0.02)]
        for l in 0..<layers {
            let p = "model.layers.\(l)."
            tensors += [(p + "input_layernorm.weight", [D], -1), (p + "post_attention_layernorm.weight", [D], -1),
                        (p + "self_attn.q_proj.weight", [D, D], 0.02), (p + "self_attn.k_proj.weight", [D, D], 0.02),
                        (p + "self_attn.v_proj.weight", [D, D], 0.02), (p + "self_attn.o_proj.weight", [D, D], 0.02),
                        (p + "mlp.gate_proj.weight", [dMLP, D], 0.02), (p + "mlp.up_proj.weight", [dMLP, D], 0.02),
                        (p + "mlp.down_proj.weight", [D, dMLP], 0.02)]
        }
        tensors += [("model.norm.weight", [D], -1), ("lm_head.weight", [vocab, D], 0.02)]
        let half = tensors.count / 2
        let shards = [Array(tensors[..<half]), Array(tensors[half...])]
        var weightMap: [String: String] = [:]
        let rng = RandomStream(SplitMix64(seed: seed))
        for (i, shard) in shards.enumerated() {
            let name = String(format: "model-%05d-of-%05d.safetensors", i + 1, shards.count)
            for t in shard { weightMap[t.0] = name }
            try writeBF16Shard(dir.appendingPathComponent(name), shard, rng: rng)
        }
        let index: [String: Any] = ["metadata": ["total_size": 0], "weight_map": weightMap]
        try JSONSerialization.data(withJSONObject: index, options: [.sortedKeys]).write(to: dir.appendingPathComponent("model.safetensors.index.json"))
        let config: [String: Any] = [
            "model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": D, "num_hidden_layers": layers,
            "num_attention_heads": heads, "num_key_value_heads": heads, "intermediate_size": dMLP, "vocab_size": vocab,
            "max_position_embeddings": 4096, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "hidden_act": "silu",
            "tie_word_embeddings": false, "torch_dtype": "bfloat16",
        ]
        try JSONSerialization.data(withJSONObject: config, options: [.sortedKeys]).write(to: dir.appendingPathComponent("config.json"))
    }

    /// One shard through `SafeTensorsWriter`'s streaming mode: each tensor's random bf16 values
    /// are generated chunk by chunk as they are written. `std < 0` means a norm weight near 1.
    private static func writeBF16Shard(_ url: URL, _ tensors: [(String, [Int], Float)], rng: RandomStream) throws {
        var w = SafeTensorsWriter()
        for (name, shape, std) in tensors {
            w.add(name, shape: shape, as: .bf16) { chunk in
                for i in chunk.indices {
                    let r = rng.generator.next()
                    // Sum of four 16-bit uniforms ≈ normal (Irwin–Hall), scaled to the std.
                    let s = Float((r & 0xFFFF) + ((r >> 16) & 0xFFFF) + ((r >> 32) & 0xFFFF) + (r >> 48)) / 65536 - 2
                    chunk[i] = std < 0 ? 1 + 0.05 * s : std * s * 1.7320508
                }
            }
        }
        try w.write(to: url)
    }
}

/// One random sequence shared by the generators of every tensor (drawn in writing order).
final class RandomStream {
    var generator: SplitMix64
    init(_ generator: SplitMix64) { self.generator = generator }
}
