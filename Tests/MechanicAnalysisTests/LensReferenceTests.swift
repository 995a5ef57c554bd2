import Foundation
import Testing
@testable import Mechanic
@testable import MechanicAnalysis

/// `accumulated_resid`, `decompose_resid`, `stack_head_results`, `get_full_resid_decomposition`,
/// `apply_ln_to_stack` and `logit_attrs` against TransformerLens 2.18 (processed models, the
/// clean prompt of `analysis.json`, `pos_slice=-1`).
@Suite struct LensReferenceTests {
    struct Case {
        let model: HookedTransformer
        let cache: ActivationCache
        let ref: SafeTensorsFile
        let labels: [String: [String]]
        let answer: Int
        let wrong: Int
    }

    func setUp(_ name: String) throws -> Case {
        let a = try LensFixtures.analysis(name)
        let model = try LensFixtures.load(name)
        let tokens = LensFixtures.ints(a["clean_tokens"])
        let (_, cache) = try model.runWithCache(TokenBatch(tokens), names: .all)
        let labels = (a["labels"] as? [String: Any] ?? [:]).mapValues { LensFixtures.strings($0) }
        return Case(model: model, cache: cache, ref: try SafeTensorsFile(url: LensFixtures.reference(name, "analysis_cache.safetensors")),
                    labels: labels, answer: LensFixtures.ints([a["answer_id"] as Any])[0], wrong: LensFixtures.ints([a["wrong_id"] as Any])[0])
    }

    func check(_ c: Case, _ key: String, _ stack: ResidualStack, _ name: String) throws {
        #expect(stack.labels == c.labels[key], "\(name) \(key) labels")
        lensExpectClose(stack.tensor, try c.ref.tensor(key), "\(name) \(key)")
    }

    @Test(arguments: LensFixtures.models)
    func stacksMatchTransformerLens(name: String) throws {
        let c = try setUp(name)
        let (m, cache) = (c.model, c.cache)
        let inclMid = !m.config.parallelAttnMLP
        for ln in [true, false] {
            let s = ln ? "ln" : "noln"
            try check(c, "accumulated_resid_\(s)", cache.accumulatedResid(model: m, inclMid: inclMid, applyLN: ln, posSlice: .index(-1)), name)
            try check(c, "decompose_resid_\(s)", cache.decomposeResid(model: m, applyLN: ln, posSlice: .index(-1)), name)
            try check(c, "stack_head_results_\(s)", cache.stackHeadResults(model: m, layer: -1, posSlice: .index(-1), applyLN: ln), name)
        }
        // The whole [components, 1, d_model] stack is stored for gpt2-tiny; the others store its sum.
        let full = try cache.getFullResidDecomposition(model: m, expandNeurons: true, applyLN: true, posSlice: .index(-1))
        if c.ref.names.contains("full_resid_decomposition_ln") {
            try check(c, "full_resid_decomposition_ln", full, name)
        } else {
            #expect(full.labels == c.labels["full_resid_decomposition_ln"], "\(name) full_resid_decomposition labels")
            lensExpectClose(full.sum(), try c.ref.tensor("full_resid_decomposition_ln_sum"), "\(name) full_resid_decomposition_ln_sum")
        }
    }

    @Test(arguments: LensFixtures.models)
    func applyLNToStackMatchesTransformerLens(name: String) throws {
        let c = try setUp(name)
        let (m, cache) = (c.model, c.cache)
        let stack = try cache.decomposeResid(model: m, posSlice: .index(-1))
        lensExpectClose(try cache.applyLNToStack(stack.tensor, model: m, layer: nil, posSlice: .index(-1)),
                        try c.ref.tensor("apply_ln_to_stack_final"), "\(name) apply_ln_to_stack_final")
        for (mlpInput, s) in [(false, "ln1"), (true, "ln2")] {
            let st = try cache.decomposeResid(model: m, layer: 1, mlpInput: mlpInput, posSlice: .index(-1))
            try check(c, "decompose_resid_l1_\(s)_noln", st, name)
            lensExpectClose(try cache.applyLNToStack(st.tensor, model: m, layer: 1, mlpInput: mlpInput, posSlice: .index(-1)),
                            try c.ref.tensor("apply_ln_to_stack_l1_\(s)"), "\(name) apply_ln_to_stack_l1_\(s)")
        }
    }

    @Test(arguments: LensFixtures.models)
    func logitAttrsMatchTransformerLens(name: String) throws {
        let c = try setUp(name)
        let (m, cache) = (c.model, c.cache)
        let stacks: [(String, ResidualStack)] = [
            ("decompose_resid", try cache.decomposeResid(model: m, posSlice: .index(-1))),
            ("accumulated_resid", try cache.accumulatedResid(model: m, inclMid: !m.config.parallelAttnMLP, posSlice: .index(-1))),
            ("stack_head_results", try cache.stackHeadResults(model: m, posSlice: .index(-1))),
            ("full_resid_decomposition", try cache.getFullResidDecomposition(model: m, posSlice: .index(-1))),
        ]
        for (key, stack) in stacks {
            lensExpectClose(try cache.logitAttrs(stack, model: m, tokens: [c.answer], incorrectTokens: [c.wrong], posSlice: .index(-1)),
                            try c.ref.tensor("logit_attrs_\(key)"), "\(name) logit_attrs_\(key)")
            lensExpectClose(try cache.logitAttrs(stack, model: m, tokens: [c.answer], posSlice: .index(-1)),
                            try c.ref.tensor("logit_attrs_answer_only_\(key)"), "\(name) logit_attrs_answer_only_\(key)")
        }
    }

    /// The cache's `hook_result` (when recorded) and the one computed from `hook_z` agree, and
    /// `computeHeadResults` fills in what a default cache lacks.
    @Test(arguments: LensFixtures.models)
    func headResultsFromZMatchCachedResult(name: String) throws {
        let m = try LensFixtures.load(name)
        let tokens = LensFixtures.ints(try LensFixtures.analysis(name)["clean_tokens"])
        let (_, withResult) = try m.runWithCache(TokenBatch(tokens), names: .all, hookOptions: HookOptions(attnResult: true))
        var plain = try m.runWithCache(TokenBatch(tokens), names: .all).cache
        #expect(plain["blocks.0.attn.hook_result"] == nil)
        try plain.computeHeadResults(model: m)
        for l in 0..<m.config.nLayers {
            let key = "blocks.\(l).attn.hook_result"
            lensExpectClose(try plain.require(key), try withResult.require(key), "\(name) \(key)")
        }
    }
}
