import Foundation
import Testing
@testable import Mechanic
import MechanicTensor

/// The forward's hook-free paths (one-pass norms, the MLP with its bias added in the
/// activation's pass, the softmax taken with the scores, heads on all cores) compute exactly
/// what the hooked paths compute: the logits of a plain forward equal, bit for bit, those of a
/// forward that caches every hook point (which takes the step-by-step paths).
@Suite struct FastPathTests {
    @Test(arguments: ["gpt2-tiny", "pythia-tiny", "llama-tiny", "qwen2-tiny"])
    func plainForwardEqualsTheHookedForwardBitForBit(name: String) throws {
        let model = try Fixtures.load(name, processed: true)
        let rows = [[499, 279, 410, 358, 289, 259, 403, 13], [12, 99, 7, 300, 41]]   // two lengths: padding, masks
        let batch = try TokenBatch.padding(rows, padId: 0, side: .left)
        let plain = try #require(try model.forward(batch).logits)
        let (hooked, cache) = try model.runWithCache(batch, names: .all)
        #expect(cache.activations.count > 10)
        #expect(plain.shape == hooked.shape)
        let differing = zip(plain.data, hooked.data).filter { $0 != $1 }.count
        #expect(differing == 0, "\(name): \(differing) of \(plain.count) logits differ between the plain and hooked forward")
        // Unprocessed weights (LayerNorm with its own weight and bias) as well.
        let raw = try Fixtures.load(name, processed: false)
        let rawPlain = try #require(try raw.forward(batch).logits)
        let (rawHooked, _) = try raw.runWithCache(batch, names: .all)
        #expect(rawPlain.data == rawHooked.data, "\(name) unprocessed: plain and hooked logits differ")
        // One short prompt: every product has at most 8 rows (the few-row product), which adds
        // onto whatever the output holds first — the MLP's b_in must come after the product on
        // both paths.
        let short = TokenBatch([499, 279, 410, 358, 289])
        for m in [model, raw] {
            let plainShort = try #require(try m.forward(short).logits)
            let (hookedShort, _) = try m.runWithCache(short, names: .all)
            #expect(plainShort.data == hookedShort.data, "\(name), 5 tokens: plain and hooked logits differ")
        }
    }

    @Test func activationWithRowBiasIsTheActivationOfTheSum() {
        let (rows, n) = (37, 300)   // more than one parallel chunk
        let x = (0..<(rows * n)).map { Float(($0 * 7919) % 2001 - 1000) / 250 }
        let bias = (0..<n).map { Float($0 % 13) / 7 - 0.9 }
        for act in [Activation.geluNew, .gelu, .relu, .silu] {
            var fused = x
            fused.withUnsafeMutableBufferPointer { f in bias.withUnsafeBufferPointer { act.apply(f, rowBias: $0) } }
            let expected = x.indices.map { act.apply(x[$0] + bias[$0 % n]) }
            #expect(fused == expected, "\(act)")
        }
    }

    @Test func parallelWidenAndTransposeMatchTheElementFormulas() {
        let count = (1 << 20) + 77   // large enough to be split over the cores
        let bits = (0..<count).map { UInt16(truncatingIfNeeded: $0 &* 40503) & 0x7F7F }   // finite bf16 values
        var out = [Float](repeating: .nan, count: count)
        bits.withUnsafeBytes { src in out.withUnsafeMutableBufferPointer { widen(.bf16, src.baseAddress!, into: $0.baseAddress!, count: count) } }
        #expect(out.indices.allSatisfy { out[$0].bitPattern == floatFromBF16(bits[$0]).bitPattern })
        let (r, c) = (301, 517)   // not multiples of the tile
        let t = Tensor(shape: [r, c], data: (0..<(r * c)).map(Float.init))
        let tt = t.permuted([1, 0])
        #expect(tt.shape == [c, r])
        #expect((0..<r).allSatisfy { i in (0..<c).allSatisfy { j in tt.data[j * r + i] == t.data[i * c + j] } })
    }
}
