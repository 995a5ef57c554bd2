import Foundation
import MechanicIO
import MechanicTensor

/// Files of a tiny GPT-2-shaped hub repo, generated fresh: a real config.json, GPT-2-style
/// tokenizer files, and safetensors weights written by `SafeTensorsWriter`.
enum HubFixtures {
    static let config = Data("""
    {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_embd": 4, "n_head": 2, "n_layer": 1,
     "n_positions": 8, "vocab_size": 6, "activation_function": "gelu_new", "layer_norm_epsilon": 1e-05}
    """.utf8)
    static let vocab = Data(#"{"a":0,"b":1,"c":2,"ab":3,"Ġ":4,"<|endoftext|>":5}"#.utf8)
    static let merges = Data("#version: 0.2\na b\n".utf8)
    static let tokenizerJSON = Data(#"{"version":"1.0","model":{"type":"BPE","vocab":{"a":0,"b":1,"c":2,"ab":3,"Ġ":4,"<|endoftext|>":5},"merges":["a b"]}}"#.utf8)
    static let tokenizerConfig = Data(#"{"model_max_length": 8, "tokenizer_class": "GPT2Tokenizer"}"#.utf8)
    static let generationConfig = Data(#"{"bos_token_id": 5, "eos_token_id": 5}"#.utf8)

    static func tokenizerFiles() -> [String: Data] {
        ["vocab.json": vocab, "merges.txt": merges, "tokenizer.json": tokenizerJSON, "tokenizer_config.json": tokenizerConfig]
    }

    /// Bytes of a safetensors file written by the project's writer.
    static func safetensors(_ fill: (inout SafeTensorsWriter) -> Void) throws -> Data {
        var w = SafeTensorsWriter()
        fill(&w)
        let dir = try makeTempDir("fixture")
        defer { cleanUp(dir) }
        let url = dir.appendingPathComponent("w.safetensors")
        try w.write(to: url)
        return try Data(contentsOf: url)
    }

    static func ramp(_ shape: [Int], scale: Float = 0.01) -> Tensor {
        let n = shape.reduce(1, *)
        return Tensor(shape: shape, data: (0..<n).map { Float($0) * scale })
    }

    /// A single-file model: config, tokenizer, generation config, `model.safetensors`, plus
    /// files Mechanic must not fetch (README, a .bin twin, an onnx export).
    static func singleFileRepo(weightElements: Int = 24) throws -> [String: Data] {
        var files = tokenizerFiles()
        files["config.json"] = config
        files["generation_config.json"] = generationConfig
        files["model.safetensors"] = try safetensors {
            $0.add("wte.weight", ramp([6, 4]))
            $0.add("h.0.ln_1.weight", Tensor(shape: [4], data: [1, 1, 1, 1]), as: .f16)
            $0.add("big", ramp([weightElements]))
        }
        files["README.md"] = Data("# tiny\n".utf8)
        files["pytorch_model.bin"] = Data(repeating: 7, count: 100)
        files["onnx/model.onnx"] = Data(repeating: 8, count: 100)
        return files
    }

    /// A sharded model: an index and two shards, as `save_pretrained(max_shard_size=…)` writes.
    static func shardedRepo() throws -> [String: Data] {
        var files = tokenizerFiles()
        files["config.json"] = config
        files["model-00001-of-00002.safetensors"] = try safetensors {
            $0.add("wte.weight", ramp([6, 4]))
        }
        files["model-00002-of-00002.safetensors"] = try safetensors {
            $0.add("h.0.ln_1.weight", Tensor(shape: [4], data: [2, 2, 2, 2]), as: .bf16)
        }
        files["model.safetensors.index.json"] = Data("""
        {"metadata": {"total_size": 104}, "weight_map": {
          "wte.weight": "model-00001-of-00002.safetensors",
          "h.0.ln_1.weight": "model-00002-of-00002.safetensors"}}
        """.utf8)
        return files
    }
}

/// Collects what a `ProgressReporter` writes.
final class ProgressLog: @unchecked Sendable {
    private let lock = NSLock()
    private var parts: [String] = []
    var text: String { lock.withLock { parts.joined() } }

    func reporter(interactive: Bool = false) -> ProgressReporter {
        ProgressReporter(isInteractive: interactive) { [self] s in lock.withLock { parts.append(s) } }
    }
}

/// A resolver that uses only `cache` and `hub` (never the real network or the user's cache).
func testResolver(cache: URL, hub: FakeHub? = nil, env extra: [String: String] = [:],
                  progress: ProgressReporter? = nil) -> ModelResolver {
    var env = ["HF_HUB_CACHE": cache.path, "HOME": cache.path,
               // No hub: a port nothing listens on, so an unexpected request fails at once.
               "HF_ENDPOINT": hub?.endpoint ?? "http://127.0.0.1:9"]
    env.merge(extra) { $1 }
    return ModelResolver(environment: env, progress: progress)
}
