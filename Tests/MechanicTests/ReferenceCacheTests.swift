import Foundation
import Testing
import FixtureSupport
@testable import Mechanic

/// Every hook, logit and loss against TransformerLens 2.18 on tiny random models, in both
/// processing modes.
@Suite struct ReferenceCacheTests {
    static let models = ["gpt2-tiny", "gpt2-tiny-scaled", "pythia-tiny", "llama-tiny", "qwen2-tiny"]
    static let cases: [(String, Bool)] = models.flatMap { [($0, true), ($0, false)] }
    static let nonActivation: Set<String> = ["logits", "loss", "loss_per_token", "tokens", "attention_mask", "real_token_mask"]

    /// Compares the reference file's activations (and logits/losses) with our run.
    func check(_ name: String, processed: Bool, file: String, batch: TokenBatch, hookOptions: HookOptions,
               onlyReal: Bool = false, subset: Bool = false) throws {
        let url = Fixtures.reference(name, file)
        guard FileManager.default.fileExists(atPath: url.path) else { return }  // not generated for every model
        let model = try Fixtures.load(name, processed: processed)
        let ref = try SafeTensorsFile(url: Fixtures.reference(name, file))
        let (logits, cache) = try model.runWithCache(batch, names: .all, hookOptions: hookOptions)
        var pairs: [(String, Tensor, Tensor)] = []
        var missing: [String] = []
        for key in ref.names where !Self.nonActivation.contains(key) {
            guard let ours = cache[key] else { missing.append(key); continue }
            pairs.append((key, ours, try ref.tensor(key)))
        }
        #expect(missing.isEmpty, "\(name) \(file): hooks TransformerLens has that we do not: \(missing)")
        let extra = subset ? [] : Set(cache.activations.keys).subtracting(ref.names)
        #expect(extra.isEmpty, "\(name) \(file): hooks we fire that TransformerLens did not cache: \(extra.sorted())")
        pairs.append(("logits", logits, try ref.tensor("logits")))
        if onlyReal {
            // Right padding: TransformerLens does not mask, so only real positions are comparable.
            let results = pairs.map { key, ours, theirs -> Comparison in
                let perRow = theirs.count / batch.batch
                let posAxis = (key.contains("hook_attn_scores") || key.contains("hook_pattern")) ? 2 : 1
                let posStride = theirs.shape.dropFirst(posAxis + 1).reduce(1, *)
                return Comparison(key, ours, theirs) { i in
                    let b = i / perRow
                    let p = (i % perRow) / posStride % batch.length
                    let keyPos = posAxis == 2 ? i % batch.length : 0
                    return batch.mask[b][p] == 1 && (posAxis == 1 || batch.mask[b][keyPos] == 1)
                }
            }
            let bad = results.filter { !$0.ok }
            #expect(bad.isEmpty, "\(name) \(file): \(bad.prefix(5).map(\.description))")
        } else {
            expectClose(pairs, context: "\(name) \(processed ? "processed" : "unprocessed") \(file)")
            let perToken = Loss.perToken(logits: logits, batch: batch)
            expectClose([("loss_per_token", perToken, try ref.tensor("loss_per_token")),
                         ("loss", Tensor(shape: [1], data: [Loss.mean(logits: logits, batch: batch)]), try ref.tensor("loss"))],
                        context: "\(name) \(file) loss")
        }
    }

    @Test(arguments: cases)
    func singlePrompts(name: String, processed: Bool) throws {
        let mode = processed ? "processed" : "unprocessed"
        for prompt in try Fixtures.prompts(name) {
            try check(name, processed: processed, file: "\(mode)_\(prompt.name).safetensors", batch: TokenBatch(prompt.tokens),
                      hookOptions: HookOptions(attnResult: true, mlpIn: true))
        }
    }

    @Test(arguments: cases)
    func splitQKVAndAttnIn(name: String, processed: Bool) throws {
        let mode = processed ? "processed" : "unprocessed"
        let p0 = try Fixtures.prompts(name)[0]
        try check(name, processed: processed, file: "\(mode)_p0_splitqkv.safetensors", batch: TokenBatch(p0.tokens),
                  hookOptions: HookOptions(attnResult: true, splitQKVInput: true, mlpIn: true), subset: true)
        try check(name, processed: processed, file: "\(mode)_p0_attnin.safetensors", batch: TokenBatch(p0.tokens),
                  hookOptions: HookOptions(attnResult: true, attnIn: true, mlpIn: true), subset: true)
    }

    @Test(arguments: cases)
    func leftPaddedBatch(name: String, processed: Bool) throws {
        guard let b = try Fixtures.manifest(name)["batch"] as? [String: Any] else { return }
        let batch = try TokenBatch(ids: Fixtures.intRows(b["tokens_left"]), mask: Fixtures.intRows(b["mask_left"]))
        try check(name, processed: processed, file: "\(processed ? "processed" : "unprocessed")_batch_left.safetensors",
                  batch: batch, hookOptions: HookOptions(attnResult: true, mlpIn: true), subset: true)
    }

    @Test(arguments: cases)
    func rightPaddedBatchMatchesAtRealPositions(name: String, processed: Bool) throws {
        guard let b = try Fixtures.manifest(name)["batch"] as? [String: Any] else { return }
        let batch = try TokenBatch(ids: Fixtures.intRows(b["tokens_right"]), mask: Fixtures.intRows(b["mask_right"]))
        try check(name, processed: processed, file: "\(processed ? "processed" : "unprocessed")_batch_right.safetensors",
                  batch: batch, hookOptions: HookOptions(attnResult: true, mlpIn: true), onlyReal: true, subset: true)
    }

    /// `use_parallel_residual: false` (which TransformerLens cannot run) against Hugging Face's logits.
    @Test func sequentialPythiaMatchesHuggingFace() throws {
        let name = "pythia-tiny-sequential"
        let model = try Fixtures.load(name, processed: false)
        #expect(model.config.parallelAttnMLP == false)
        let ref = try SafeTensorsFile(url: Fixtures.reference(name, "hf_logits.safetensors"))
        for prompt in try Fixtures.prompts(name) {
            let logits = try model.forward(TokenBatch(prompt.tokens)).logits ?? Tensor(zeros: [0])
            let theirs = try ref.tensor("logits_\(prompt.name)")
            expectClose([("logits_\(prompt.name)", logits.reshaped(theirs.shape), theirs)], context: name)
        }
    }

    @Test(arguments: models)
    func greedyGenerationWithKVCacheMatches(name: String) throws {
        let model = try Fixtures.load(name, processed: true)
        let g = try Fixtures.manifest(name)["generation"] as? [String: Any] ?? [:]
        let prompt = Fixtures.ints(g["prompt_tokens"])
        let expected = Fixtures.ints(g["greedy_tokens_no_eos_stop"] ?? g["greedy_tokens"])
        let out = try model.generate(TokenBatch(prompt), maxNewTokens: expected.count - prompt.count,
                                     sampling: SamplingOptions(temperature: 0, stopAtEOS: false))
        #expect(out[0] == expected)
    }
}

/// Streaming mode (blocks read, converted and processed one at a time from the mapped
/// checkpoint — how large models run) gives TransformerLens's numbers too.
@Suite struct StreamingWeightsTests {
    @Test(arguments: ReferenceCacheTests.cases)
    func streamingMatchesTransformerLens(name: String, processed: Bool) throws {
        let model = try HookedTransformer.load(Fixtures.model(name), processing: processed ? .default : .none, streaming: true)
        #expect(model.streamsWeights && model.weights.blocks.isEmpty)
        let file = "\(processed ? "processed" : "unprocessed")_p0.safetensors"
        guard FileManager.default.fileExists(atPath: Fixtures.reference(name, file).path) else { return }
        let ref = try SafeTensorsFile(url: Fixtures.reference(name, file))
        let tokens = try ref.integers("tokens")
        let (logits, cache) = try model.runWithCache(TokenBatch(tokens), names: .all)
        var pairs: [(String, Tensor, Tensor)] = [("logits", logits, try ref.tensor("logits"))]
        for key in cache.names { pairs.append((key, try cache.require(key), try ref.tensor(key))) }
        expectClose(pairs, context: "streaming \(name) \(file)")
        // The block accessor gives the same processed weights as a resident load.
        let resident = try Fixtures.load(name, processed: processed)
        #expect(try model.block(1).W_Q == resident.block(1).W_Q)
        #expect(try model.block(0).b_O == resident.block(0).b_O)
    }

    /// The block accessor names a layer that does not exist instead of stopping on an index.
    @Test func blockOutsideTheModelIsAClearError() throws {
        let streamed = try HookedTransformer.load(Fixtures.model("gpt2-tiny"), streaming: true)
        let resident = try Fixtures.load("gpt2-tiny", processed: true)
        for m in [streamed, resident] {
            for l in [-1, m.config.nLayers] {
                #expect(throws: MechanicError.self) { try m.block(l) }
            }
            #expect(try m.block(m.config.nLayers - 1).W_O.shape == [m.config.nHeads, m.config.dHead, m.config.dModel])
        }
    }
}
