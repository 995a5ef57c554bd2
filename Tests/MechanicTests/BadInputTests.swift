import Foundation
import Testing
import FixtureSupport
@testable import Mechanic

/// Each user mistake is a typed error whose message names the file, key, tensor or value.
@Suite struct BadInputTests {
    /// A copy of a fixture model directory that a test may damage.
    func scratchCopy(_ name: String) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mechanic-bad-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: Fixtures.model(name), to: dir)
        return dir
    }

    func editConfig(_ dir: URL, _ edit: (inout [String: Any]) -> Void) throws {
        let url = dir.appendingPathComponent("config.json")
        var obj = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any] ?? [:]
        edit(&obj)
        try JSONSerialization.data(withJSONObject: obj).write(to: url)
    }

    func message(_ body: () throws -> Void) -> String {
        do { try body(); return "" } catch { return "\(error)" }
    }

    @Test func unknownModelTypeNamesTheType() throws {
        let dir = try scratchCopy("gpt2-tiny")
        try editConfig(dir) { $0["model_type"] = "mamba" }
        let m = message { _ = try HookedTransformer.load(dir) }
        #expect(m.contains("\"mamba\"") && m.contains("config.json"))
    }

    @Test func missingConfigKeyIsNamed() throws {
        let dir = try scratchCopy("gpt2-tiny")
        try editConfig(dir) { $0.removeValue(forKey: "n_layer") }
        #expect(message { _ = try HookedTransformer.load(dir) }.contains("\"n_layer\""))
    }

    @Test func unsupportedOptionsAreRefusedNotIgnored() throws {
        let dir = try scratchCopy("llama-tiny")
        try editConfig(dir) { $0["num_local_experts"] = 8 }
        #expect(message { _ = try HookedTransformer.load(dir) }.contains("num_local_experts"))
        let dir2 = try scratchCopy("llama-tiny")
        try editConfig(dir2) { $0["rope_scaling"] = ["rope_type": "yarn", "factor": 4] }
        #expect(message { _ = try HookedTransformer.load(dir2) }.contains("rope_scaling"))
    }

    @Test func tensorWithTheWrongShapeForTheConfigIsNamed() throws {
        let dir = try scratchCopy("gpt2-tiny")
        try editConfig(dir) { $0["n_inner"] = 128 }  // the checkpoint's MLP is 256 wide
        let m = message { _ = try HookedTransformer.load(dir) }
        #expect(m.contains("mlp.c_fc.weight") && m.contains("[64, 128]"))
    }

    @Test func missingTensorIsNamed() throws {
        let dir = try scratchCopy("gpt2-tiny")
        let url = dir.appendingPathComponent("model.safetensors")
        let file = try SafeTensorsFile(url: url)
        var w = SafeTensorsWriter()
        for name in file.names where !name.hasSuffix("h.1.ln_2.bias") { w.add(name, try file.tensor(name)) }
        try w.write(to: url)
        #expect(message { _ = try HookedTransformer.load(dir) }.contains("h.1.ln_2.bias"))
    }

    @Test func unexpectedTensorIsNamed() throws {
        let dir = try scratchCopy("pythia-tiny")
        let url = dir.appendingPathComponent("model.safetensors")
        let file = try SafeTensorsFile(url: url)
        var w = SafeTensorsWriter()
        for name in file.names { w.add(name, try file.tensor(name)) }
        w.add("gpt_neox.layers.0.attention.extra_adapter.weight", Tensor(zeros: [4]))
        try w.write(to: url)
        #expect(message { _ = try HookedTransformer.load(dir) }.contains("extra_adapter"))
    }

    @Test func promptLongerThanTheContextAndOutOfRangeIds() throws {
        let model = try Fixtures.load("gpt2-tiny", processed: true)
        #expect(throws: MechanicError.promptTooLong(tokens: 65, nCtx: 64)) {
            _ = try model.forward(TokenBatch(Array(repeating: 1, count: 65)))
        }
        #expect(throws: MechanicError.tokenOutOfRange(id: 500, dVocab: 500)) {
            _ = try model.forward(TokenBatch([1, 500]))
        }
        #expect(throws: MechanicError.self) { _ = try TokenBatch(ids: [[1, 2], [3]]) }
    }

    @Test func startAndStopLayersAreChecked() throws {
        let model = try Fixtures.load("gpt2-tiny", processed: true)
        #expect(throws: MechanicError.self) { _ = try model.forward(TokenBatch([1, 2]), options: ForwardOptions(stopAtLayer: 3)) }
        #expect(throws: MechanicError.self) { _ = try model.forward(TokenBatch([1, 2]), options: ForwardOptions(startAtLayer: 1)) }
    }
}

@Suite struct CacheEstimateTests {
    @Test func estimateCountsEveryCachedElement() throws {
        let model = try Fixtures.load("llama-tiny", processed: true)
        let batch = try TokenBatch(ids: [[1, 2, 3, 4, 5], [1, 6, 7, 8, 9]])
        let (logits, cache) = try model.runWithCache(batch, names: .all, hookOptions: HookOptions(attnResult: true, mlpIn: true))
        let exact = 4 * (cache.activations.values.reduce(0) { $0 + $1.count } + logits.count)
        #expect(model.config.cacheBytes(cache.names, batch: 2, pos: 5, keys: 5) == exact)
    }

    @Test func aCacheThatCannotFitIsRefusedWithTheEstimateAndAFilter() throws {
        // A GPT-2-small-sized config on a huge batch: the estimate alone exceeds any machine here.
        let c = ModelConfig(modelType: "gpt2", dModel: 768, nLayers: 12, nHeads: 12, dHead: 64, dMLP: 3072, dVocab: 50257, nCtx: 1024)
        let bytes = c.cacheBytes(c.hookNames(), batch: 4096, pos: 1024, keys: 1024)
        #expect(bytes > 1 << 40)
        let model = try Fixtures.load("gpt2-tiny", processed: true)
        #expect(throws: Never.self) { try model.checkCacheFits(model.config.hookNames(), batch: 1, pos: 8, keys: 8) }
        do {
            try model.checkCacheFits(model.config.hookNames(), batch: 1 << 20, pos: 64, keys: 64)
            Issue.record("a cache of 1M prompts should be refused")
        } catch let e as MechanicError {
            // A typed error with the estimate; the model layer names no command-line flag (the
            // CLI adds `--names`, FlagAdviceTests).
            guard case let .cacheTooLarge(bytes, available, resid) = e else { Issue.record("got \(e)"); return }
            #expect(bytes == model.config.cacheBytes(model.config.hookNames(), batch: 1 << 20, pos: 64, keys: 64))
            #expect(available > 0 && resid > 0 && resid < bytes)
            #expect("\(e)".contains("GB") && "\(e)".contains("hook_resid_post") && !"\(e)".contains("--"))
        }
    }
}
