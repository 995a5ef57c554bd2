import Foundation
import Testing
import FixtureSupport
@testable import Mechanic

/// Every integer and float of a `config.json` is validated before anything is sized from it
/// (issue 10: values found by fuzzing that crashed the loader). Each case names the key and value.
@Suite struct BadInputConfigTests {
    /// The message of loading `fixture` with its config.json edited by `edit`, or "" when it loads.
    func loadMessage(_ fixture: String, _ edit: (inout [String: Any]) -> Void) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mechanic-cfg-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: Fixtures.model(fixture), to: dir)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("config.json")
        var obj = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any] ?? [:]
        edit(&obj)
        try JSONSerialization.data(withJSONObject: obj).write(to: url)
        do { _ = try HookedTransformer.load(dir); return "" } catch { return "\(error)" }
    }

    @Test(arguments: [2.0, -0.5, 1e30])
    func rotaryPctOutsideZeroToOneIsAnError(_ pct: Double) throws {
        let m = try loadMessage("pythia-tiny") { $0["rotary_pct"] = pct }
        #expect(m.contains("config.json: rotary_pct must be a number in [0, 1], found"), "\(m)")
    }

    @Test func rotaryPctGivingAnOddRotaryDimIsAnError() throws {
        let m = try loadMessage("pythia-tiny") { $0["rotary_pct"] = 0.0625 }  // d_head 16 → 1 dimension
        #expect(m.contains("rotary_pct 0.0625 gives 1 rotary dimensions per head (of 16), which must be even"), "\(m)")
    }

    @Test func rotaryPctZeroMeansNoRotary() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mechanic-cfg-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: Fixtures.model("pythia-tiny"), to: dir)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("config.json")
        var obj = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any] ?? [:]
        obj["rotary_pct"] = 0
        try JSONSerialization.data(withJSONObject: obj).write(to: url)
        let model = try HookedTransformer.load(dir, processing: .none)
        #expect(model.config.rotaryDim == 0)
        let (_, cache) = try model.runWithCache(TokenBatch([3, 7, 11, 5]), names: .regex("hook_(rot_)?q$"))
        let q = try #require(cache["blocks.1.attn.hook_q"]), rotQ = try #require(cache["blocks.1.attn.hook_rot_q"])
        #expect(q.data == rotQ.data)
    }

    @Test(arguments: [("gpt2-tiny", "n_layer"), ("pythia-tiny", "num_hidden_layers"), ("llama-tiny", "num_hidden_layers"),
                      ("gpt2-tiny", "n_head"), ("llama-tiny", "num_key_value_heads"), ("gpt2-tiny", "vocab_size"),
                      ("gpt2-tiny", "n_positions"), ("llama-tiny", "max_position_embeddings"), ("pythia-tiny", "intermediate_size")])
    func negativeCountsAreErrorsNamingTheKey(_ fixture: String, _ key: String) throws {
        let m = try loadMessage(fixture) { $0[key] = -1 }
        #expect(m.contains("config.json: \(key) must be a positive integer, found -1"), "\(m)")
    }

    @Test func nullFloatAndStringCountsAreNamedAsJSONSpellsThem() throws {
        #expect(try loadMessage("gpt2-tiny") { $0["n_layer"] = NSNull() }.hasSuffix("config.json: n_layer must be a positive integer, found null"))
        #expect(try loadMessage("gpt2-tiny") { $0["n_layer"] = 2.5 }.hasSuffix("config.json: n_layer must be a positive integer, found 2.5"))
        #expect(try loadMessage("gpt2-tiny") { $0["n_layer"] = "2" }.hasSuffix("config.json: n_layer must be a positive integer, found \"2\""))
        #expect(try loadMessage("gpt2-tiny") { $0["n_layer"] = true }.hasSuffix("config.json: n_layer must be a positive integer, found true"))
    }

    @Test func hugeWidthsAreRefusedNotOverflowed() throws {
        let m = try loadMessage("gpt2-tiny") { $0["n_embd"] = 4611686018427387904 }
        #expect(m.contains("config.json: n_embd must be a plausible width, found 4611686018427387904"), "\(m)")
        let v = try loadMessage("gpt2-tiny") { $0["vocab_size"] = 1 << 50 }
        #expect(v.contains("the embedding would have vocab_size 1125899906842624 × n_embd 64 elements"), "\(v)")
        let layers = try loadMessage("llama-tiny") { $0["num_hidden_layers"] = 1 << 40 }
        #expect(layers.contains("num_hidden_layers 1099511627776 is implausibly large"), "\(layers)")
        let ctx = try loadMessage("llama-tiny") { $0["max_position_embeddings"] = 1 << 45 }
        #expect(ctx.contains("rotary tables") && ctx.contains("max_position_embeddings"), "\(ctx)")
    }

    @Test func headsMustDivideTheWidthAndEachOther() throws {
        #expect(try loadMessage("gpt2-tiny") { $0["n_head"] = 3 }.contains("n_embd 64 is not divisible by n_head 3"))
        #expect(try loadMessage("llama-tiny") { $0["num_key_value_heads"] = 4 }
            .contains("num_attention_heads 6 is not a multiple of num_key_value_heads 4"))
        #expect(try loadMessage("llama-tiny") { $0["num_attention_heads"] = 0 }
            .contains("num_attention_heads must be a positive integer, found 0"))
    }

    @Test func normEpsilonsAndRotaryBasesMustBeFiniteAndInRange() throws {
        #expect(try loadMessage("gpt2-tiny") { $0["layer_norm_epsilon"] = -1e-5 }
            .contains("layer_norm_epsilon must be a finite number ≥ 0, found -1e-05"))
        #expect(try loadMessage("llama-tiny") { $0["rms_norm_eps"] = 1e300 }.contains("rms_norm_eps must be a finite number ≥ 0"))
        #expect(try loadMessage("pythia-tiny") { $0["layer_norm_eps"] = "tiny" }.contains("layer_norm_eps must be a number, found \"tiny\""))
        #expect(try loadMessage("llama-tiny") { $0["rope_theta"] = 0 }.contains("rope_theta must be a finite number > 0, found 0"))
        #expect(try loadMessage("pythia-tiny") { $0["rotary_emb_base"] = -10 }.contains("rotary_emb_base must be a finite number > 0, found -10"))
    }

    @Test func ropeScalingMustBeAnObjectWithPositiveFactors() throws {
        let list = try loadMessage("llama-tiny") { $0["rope_scaling"] = [8.0, 1.0] }
        #expect(list.contains("rope_scaling must be an object"), "\(list)")
        let bad = try loadMessage("llama-tiny") {
            $0["rope_scaling"] = ["rope_type": "llama3", "factor": -8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                  "original_max_position_embeddings": 8192]
        }
        #expect(bad.contains("rope_scaling.factor must be a finite number > 0, found -8"), "\(bad)")
        let same = try loadMessage("llama-tiny") {
            $0["rope_scaling"] = ["rope_type": "llama3", "factor": 8.0, "low_freq_factor": 2.0, "high_freq_factor": 2.0,
                                  "original_max_position_embeddings": 8192]
        }
        #expect(same.contains("must differ"), "\(same)")
    }

    @Test func aConfigBuiltInCodeIsCheckedToo() throws {
        let model = try Fixtures.load("gpt2-tiny", processed: true)
        var c = model.config
        c.nLayers = -1
        #expect(throws: MechanicError.badConfig(file: "the model config", reason: "n_layers must be an integer ≥ 0, found -1")) {
            _ = try HookedTransformer(config: c, weights: model.weights)
        }
        c = model.config
        c.nHeads = 0
        #expect(throws: MechanicError.self) { _ = try HookedTransformer(config: c, weights: model.weights) }
    }
}
