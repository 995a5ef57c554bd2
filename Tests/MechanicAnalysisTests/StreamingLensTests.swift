import Foundation
import Testing
import FixtureSupport
import Mechanic
@testable import MechanicAnalysis

/// The lens, attribution and diff analyses on a streamed model (blocks read from the checkpoint
/// per use, `weights` holding only the globals) give the resident model's numbers.
@Suite struct StreamingLensTests {
    @Test(arguments: Streamed.models)
    func logitLensAndResidualStacksMatchResident(_ name: String) throws {
        let (r, s) = try Streamed.load(name)
        let pair = try PatchingFixtures.pair(name)
        var same = SameNumbers("\(name) lens")
        for mode in LensMode.allCases {
            try same.json("logit lens \(mode)", LogitLens.run(model: s, tokens: pair.clean, mode: mode, answer: pair.answer),
                          LogitLens.run(model: r, tokens: pair.clean, mode: mode, answer: pair.answer))
        }
        let batch = try TokenBatch(ids: [pair.clean, pair.corrupt])
        let (_, cs) = try s.runWithCache(batch, names: .all)
        let (_, cr) = try r.runWithCache(batch, names: .all)
        let parallel = r.config.parallelAttnMLP
        // Each stack from the streamed model and its cache, then from the resident ones.
        let stacks: [(String, (HookedTransformer, ActivationCache) throws -> Tensor)] = [
            ("accumulated_resid", { try $1.accumulatedResid(model: $0, inclMid: !parallel, applyLN: true).tensor }),
            ("accumulated_resid mlp input", { try $1.accumulatedResid(model: $0, layer: 1, mlpInput: true).tensor }),
            ("decompose_resid", { try $1.decomposeResid(model: $0, applyLN: true).tensor }),
            ("decompose_resid mlp input", { try $1.decomposeResid(model: $0, layer: 1, mlpInput: true).tensor }),
            ("head results", { try $1.stackHeadResults(model: $0, applyLN: true).tensor }),
            ("neuron results", { try $1.stackNeuronResults(model: $0, applyLN: true).tensor }),
            ("neuron results L1 slice", { try $1.neuronResults(model: $0, layer: 1, neuronSlice: .range(start: 2, stop: 9, step: 3)) }),
            ("full decomposition", { try $1.getFullResidDecomposition(model: $0, applyLN: true, posSlice: .index(-1)).tensor }),
            ("full decomposition by layer", { try $1.getFullResidDecomposition(model: $0, layer: 1, mlpInput: true, expandNeurons: false).tensor }),
            ("logit attrs", { m, c in
                try c.logitAttrs(c.decomposeResid(model: m, posSlice: .index(-1)), model: m, tokens: [pair.answer, pair.answer],
                                 incorrectTokens: [pair.wrong, pair.wrong], posSlice: .index(-1))
            }),
            ("accumulated bias", { m, _ in try m.accumulatedBias(layer: m.config.nLayers) }),
            ("accumulated bias mlp input", { m, _ in try m.accumulatedBias(layer: 1, mlpInput: true, includeMLPBiases: false) }),
        ]
        for (label, stack) in stacks { same.tensor(label, try stack(s, cs), try stack(r, cr)) }
        var (hs, hr) = (cs, cr)
        try hs.computeHeadResults(model: s)
        try hr.computeHeadResults(model: r)
        for l in 0..<r.config.nLayers {
            let key = "blocks.\(l).attn.hook_result"
            same.tensor(key, try hs.require(key), try hr.require(key))
        }
        same.check()
    }

    @Test(arguments: Streamed.models)
    func directLogitAttributionMatchesResident(_ name: String) throws {
        let (r, s) = try Streamed.load(name)
        let pair = try PatchingFixtures.pair(name)
        var same = SameNumbers("\(name) attribute")
        for by in AttributionGrouping.allCases {
            for wrong in [pair.wrong, nil] {
                try same.json("\(by) wrong \(wrong.map(String.init) ?? "none")",
                              DirectLogitAttribution.run(model: s, tokens: pair.clean, answer: pair.answer, wrong: wrong, by: by),
                              DirectLogitAttribution.run(model: r, tokens: pair.clean, answer: pair.answer, wrong: wrong, by: by))
            }
        }
        same.check()
    }

    @Test(arguments: Streamed.models)
    func activationDiffWithVerificationMatchesResident(_ name: String) throws {
        let (r, s) = try Streamed.load(name)
        let pair = try PatchingFixtures.pair(name)
        var same = SameNumbers("\(name) diff")
        for rank in DiffRanking.allCases {
            func diff(_ m: HookedTransformer) throws -> ActivationDiffReport {
                try ActivationDiff.run(model: m, a: [pair.clean], b: [pair.corrupt], top: 6, rankBy: rank, verify: 3,
                                       answer: pair.answer, wrong: pair.wrong)
            }
            let (a, b) = (try diff(s), try diff(r))
            #expect(a.verification != nil)
            try same.json("\(rank)", a, b)
        }
        same.check()
    }
}
