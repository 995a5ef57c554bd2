import Foundation
import Testing
import FixtureSupport
import MechanicIO
@testable import Mechanic

/// Reverse-mode gradients of hook-point activations (`Backward/`), against torch autograd through
/// TransformerLens 2.18 (`scripts/reference/gradient_fixtures.py`) and against finite differences.
@Suite struct GradientTests {
    static let runs: [(String, Bool)] = [("gpt2-tiny", true), ("gpt2-tiny", false), ("pythia-tiny", true),
                                        ("llama-tiny", true), ("llama-tiny", false)]

    /// The fixture's run: the corrupted prompt and its mirror image, answers (a, w) / wrongs (w, a).
    static func setup(_ name: String) throws -> (batch: TokenBatch, answers: [Int], wrongs: [Int]) {
        let info = try TestFixtures.json(TestFixtures.reference(name, "analysis.json"))
        let clean = TestFixtures.ints(info["clean_tokens"]), corrupt = TestFixtures.ints(info["corrupted_tokens"])
        let a = (info["answer_id"] as? NSNumber)?.intValue ?? 0, w = (info["wrong_id"] as? NSNumber)?.intValue ?? 0
        return (try TokenBatch(ids: [corrupt, clean]), [a, w], [w, a])
    }

    /// d mean(logits[answer] − logits[wrong]) / d logits.
    static func logitDiffGradient(_ logits: Tensor, _ answers: [Int], _ wrongs: [Int]) -> Tensor {
        let (B, V) = (logits.shape[0], logits.shape[1])
        var g = Tensor(zeros: [B, V])
        for b in 0..<B {
            g.data[b * V + answers[b]] += 1 / Float(B)
            g.data[b * V + wrongs[b]] -= 1 / Float(B)
        }
        return g
    }

    /// d mean(−log softmax(logits)[answer]) / d logits = (softmax − onehot) / B.
    static func lossGradient(_ logits: Tensor, _ answers: [Int]) -> Tensor {
        let (B, V) = (logits.shape[0], logits.shape[1])
        var g = logits
        for b in 0..<B {
            let row = Array(logits.data[(b * V)..<((b + 1) * V)])
            let m = row.max() ?? 0
            let s = row.reduce(0) { $0 + exp(Double($1 - m)) }
            for j in 0..<V { g.data[b * V + j] = Float(exp(Double(row[j] - m)) / s) / Float(B) }
            g.data[b * V + answers[b]] -= 1 / Float(B)
        }
        return g
    }

    @Test("every hook-point gradient equals torch autograd through TransformerLens", arguments: runs)
    func matchesAutograd(_ name: String, _ processed: Bool) throws {
        let model = try TestFixtures.load(name, processed: processed)
        let ref = try SafeTensorsFile(url: TestFixtures.reference(name, "gradients_\(processed ? "processed" : "unprocessed").safetensors"))
        let (batch, answers, wrongs) = try Self.setup(name)
        let g = try model.gradients(batch) { Self.logitDiffGradient($0, answers, wrongs) }
        var pairs: [(String, Tensor, Tensor)] = []
        var missing: [String] = []
        for key in ref.names where key.hasPrefix("grad.") {
            let hook = String(key.dropFirst("grad.".count))
            guard let ours = g.gradients[hook] else { missing.append(hook); continue }
            pairs.append((hook, ours, try ref.tensor(key)))
        }
        #expect(missing.isEmpty, "no gradient for \(missing)")
        #expect(pairs.count >= 20 * model.config.nLayers / 2)
        expectClose(pairs, context: "\(name) \(processed ? "processed" : "unprocessed") gradients")
        // The logit difference itself.
        let value = (0..<2).map { b in Double(g.logits.data[b * model.config.dVocab + answers[b]] - g.logits.data[b * model.config.dVocab + wrongs[b]]) }
        let metric = try ref.tensor("metric").data[0]
        #expect(abs(Float((value[0] + value[1]) / 2) - metric) <= 1e-4 * max(1, abs(metric)))

        // Cross-entropy of the answer: the whole softmax in d logits.
        let lg = try model.gradients(batch) { Self.lossGradient($0, answers) }
        let lossPairs = try ref.names.filter { $0.hasPrefix("lossgrad.") }.map { key -> (String, Tensor, Tensor) in
            let hook = String(key.dropFirst("lossgrad.".count))
            return (hook, lg.gradients[hook] ?? Tensor(zeros: [0]), try ref.tensor(key))
        }
        #expect(lossPairs.count == model.config.nLayers + 1)
        expectClose(lossPairs, context: "\(name) loss gradients")
    }

    /// Central differences of the logit difference along a random direction of one activation
    /// (added through a hook) against `gradient · direction`.
    @Test("gradients agree with finite differences", arguments: [("gpt2-tiny", false), ("pythia-tiny", true), ("llama-tiny", false)])
    func finiteDifferences(_ name: String, _ processed: Bool) throws {
        let model = try TestFixtures.load(name, processed: processed)
        let (batch, answers, wrongs) = try Self.setup(name)
        let g = try model.gradients(batch) { Self.logitDiffGradient($0, answers, wrongs) }
        let L = model.config.nLayers
        var hooks = ["hook_embed", actName("resid_pre", layer: L - 1), actName("q", layer: 0), actName("k", layer: L - 1),
                     actName("v", layer: 0), actName("pattern", layer: L - 1), actName("z", layer: 0),
                     actName("pre", layer: 0), actName("post", layer: L - 1), actName("attn_out", layer: 0),
                     actName("scale", layer: 1), "ln_final.hook_scale"]
        if model.config.positionalEmbedding == .rotary { hooks.append(actName("rot_k", layer: 0)) }
        var rng = SplitMix64(seed: 7)
        for hook in hooks {
            let grad = try #require(g.gradients[hook], "no gradient for \(hook)")
            let u = (0..<grad.count).map { _ in Float(Double(rng.next() % 2001) / 1000 - 1) }
            let eps: Float = 1e-2
            func metric(_ sign: Float) throws -> Double {
                let h = Hook(hook) { act, _ in for i in 0..<act.count { act.data[i] += sign * eps * u[i] } }
                let logits = try #require(try model.forward(batch, options: ForwardOptions(hooks: [h], logits: .last)).logits)
                let V = model.config.dVocab
                return (0..<2).reduce(0.0) { $0 + Double(logits.data[$1 * V + answers[$1]] - logits.data[$1 * V + wrongs[$1]]) } / 2
            }
            let numeric = (try metric(1) - metric(-1)) / Double(2 * eps)
            let analytic = zip(grad.data, u).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            let scale = max(abs(analytic), 1e-2)
            #expect(abs(numeric - analytic) <= 2e-2 * scale + 2e-3, "\(name) \(hook): finite difference \(numeric) vs gradient \(analytic)")
        }
    }
}
