import Foundation
import Testing
import FixtureSupport
@testable import Mechanic

/// The block kernels (`Sources/Mechanic/Kernels`) on a range of rows give the forward pass's
/// activations at those rows: queries from position `start` on attending to every key, the MLP
/// and the projections on any subset of tokens, the unembedding at chosen columns.
@Suite struct KernelTests {
    let tokens = [499, 279, 410, 358, 289, 259, 403, 13]

    @Test(arguments: ["gpt2-tiny", "pythia-tiny", "llama-tiny", "qwen2-tiny"])
    func kernelsOnARowRangeMatchTheForward(name: String) throws {
        let model = try Fixtures.load(name, processed: true)
        let c = model.config, s = AttentionShape(c)
        let (P, H, K, E) = (tokens.count, c.nHeads, c.nKeyValueHeads, c.dHead)
        let rotary = c.positionalEmbedding == .rotary
        let (logits, cache) = try model.runWithCache(TokenBatch(tokens), names: .all)
        for l in 0..<c.nLayers {
            let w = try model.block(l), f = try model.fusedAttention(l)
            func act(_ kind: String) throws -> Tensor {   // [1, ...] -> [...]
                let t = try cache.require(actName(kind, layer: l))
                return t.reshaped(Array(t.shape.dropFirst()))
            }
            let residPre = try act("resid_pre")                                   // [pos, d_model]
            let x = Kernels.norm(residPre, c, weight: w.ln1W, bias: w.ln1B)       // [pos, d_model]
            var pairs: [(String, Tensor, Tensor)] = [
                ("q", Kernels.project(x, f, .q), try act("q")),
                ("k", Kernels.project(x, f, .k), try act("k")),
                ("v", Kernels.project(x, f, .v), try act("v")),
            ]
            let q = try act(rotary ? "rot_q" : "q"), k = try act(rotary ? "rot_k" : "k"), v = try act("v")
            let pattern = try act("pattern"), z = try act("z")                    // [head, pos, pos], [pos, head, d_head]
            for start in [0, 3, P - 1] {
                let n = P - start
                var rowPattern = [Float](repeating: 0, count: H * n * P)          // [head, n, pos]
                var rowZ = [Float](repeating: 0, count: n * H * E)                // [n, head, d_head]
                q.data.withUnsafeBufferPointer { qp in k.data.withUnsafeBufferPointer { kp in v.data.withUnsafeBufferPointer { vp in
                    rowPattern.withUnsafeMutableBufferPointer { pp in rowZ.withUnsafeMutableBufferPointer { zp in
                        Kernels.attentionScores(s, q: qp.baseAddress! + start * H * E, k: kp.baseAddress!, queries: n, keys: P,
                                                firstQuery: start, scale: c.attnScale(layer: l), softmax: true, scores: pp.baseAddress!)
                        Kernels.attentionMix(s, pattern: pp.baseAddress!, v: vp.baseAddress!, queries: n, keys: P, z: zp.baseAddress!)
                    }}
                }}}
                var expectedPattern = [Float]()
                for h in 0..<H { expectedPattern += pattern.data[((h * P + start) * P)..<((h + 1) * P * P)] }
                pairs.append(("pattern rows \(start)..<\(P)", Tensor(shape: [H, n, P], data: rowPattern), Tensor(shape: [H, n, P], data: expectedPattern)))
                pairs.append(("z rows \(start)..<\(P)", Tensor(shape: [n, H, E], data: rowZ),
                              Tensor(shape: [n, H, E], data: Array(z.data[(start * H * E)...]))))
            }
            let attnOut = try act("attn_out")
            pairs.append(("attn_out", Kernels.attentionOut(z: z, W_O: w.W_O, b_O: w.b_O), attnOut))
            pairs.append(("Σ result", Kernels.sumHeadResults(Kernels.headResults(z: z, W_O: w.W_O), b_O: w.b_O), attnOut))
            if !c.attnOnly {
                let mlpIn = c.parallelAttnMLP ? residPre : try act("resid_mid")
                let rows = [1, 4, P - 1]
                let x2 = Kernels.gatherRows(Kernels.norm(mlpIn, c, weight: w.ln2W, bias: w.ln2B), rows)   // [3, d_model]
                let expected = Kernels.gatherRows(try act("mlp_out"), rows)
                pairs.append(("mlp_out rows", Kernels.mlp(x2, w, Kernels.activation(c)), expected))
                pairs.append(("mlp_out rows (scratch)", Kernels.mlp(x2, w, Kernels.activation(c), scratch: MLPScratch()), expected))
            }
            expectClose(pairs, context: "\(name) layer \(l)")
            _ = K
        }
        // Unembedding at chosen rows and columns: those entries of the logits.
        let residFinal = try cache.require(actName("resid_post", layer: c.nLayers - 1)).reshaped([P, c.dModel])
        let final = Kernels.norm(residFinal, c, weight: model.weights.lnFinalW, bias: model.weights.lnFinalB)
        let columns = [3, 0, c.dVocab - 1]
        let chosen = Kernels.unembed(Kernels.gatherRows(final, [P - 1]), W_U: model.weights.W_U, b_U: model.weights.b_U, columns: columns)
        let full = logits.reshaped([P, c.dVocab])
        let expected = Tensor(shape: [1, 3], data: columns.map { full.data[(P - 1) * c.dVocab + $0] })
        expectClose([("logits[last, columns]", chosen, expected)], context: name)
    }
    /// `MLPScratch` hands out buffers whose contents are unspecified: stale values (here NaN) in a
    /// reused scratch never reach the result. Bit-identical to a fresh scratch, on a few rows (the
    /// streamed product) and on many (sgemm), for the plain and the gated MLP.
    @Test(arguments: ["gpt2-tiny", "llama-tiny"])
    func staleScratchDoesNotChangeTheMLP(name: String) throws {
        let model = try Fixtures.load(name, processed: true)
        let c = model.config, w = try model.block(0)
        var rng = SplitMix64(seed: 3)
        for rows in [3, 40] {
            let x = Tensor(shape: [rows, c.dModel], data: (0..<rows * c.dModel).map { _ in Float(rng.next() % 2001) / 1000 - 1 })
            let stale = MLPScratch()
            stale.reserve(rows * c.dMLP, gated: c.gatedMLP)
            for i in stale.hidden.indices { stale.hidden[i] = .nan }
            for i in stale.linear.indices { stale.linear[i] = .nan }
            let got = Kernels.mlp(x, w, Kernels.activation(c), scratch: stale)
            let fresh = Kernels.mlp(x, w, Kernels.activation(c))
            #expect(got.data == fresh.data, "\(name), \(rows) rows")
            #expect(!got.data.contains { $0.isNaN })
        }
    }
}
