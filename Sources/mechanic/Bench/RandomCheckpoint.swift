import Foundation
import Mechanic

/// Writes checkpoints of random weights with the project's own safetensors writer, for benchmarks.
enum RandomCheckpoint {
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
