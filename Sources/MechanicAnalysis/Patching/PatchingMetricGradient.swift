import Foundation
import Mechanic

extension MetricContext {
    /// `d metric / d logits` for final-position logits `[pairs, d_vocab]` (one row per pair):
    /// the gradient of `finish(mean over pairs of raw)`, as attribution patching needs it.
    ///
    /// Per pair: logit difference `e_a − e_w`; probability `p_a · (e_a − p)`; loss `p − e_a`;
    /// KL(p_clean ‖ softmax(z)) `softmax(z) − p_clean`; all divided by the number of pairs, and by
    /// the clean − corrupted logit difference the normalised metric uses (every pair's, in a sweep).
    func gradient(_ logits: Tensor) throws -> Tensor {
        let N = answers.count
        let V = logits.shape.last ?? 0
        guard logits.count == N * V else {
            throw MechanicError.invalidArgument("metric gradient: expected \(N) final-position logit rows, got shape \(logits.shape)")
        }
        var scale = 1 / Double(N)
        if metric == .normalizedLogitDiff { scale /= normalization.clean - normalization.corrupt }
        var g = [Float](repeating: 0, count: N * V)
        logits.data.withUnsafeBufferPointer { p in
            guard let base = p.baseAddress else { return }
            for n in 0..<N {
                let row = base + n * V, o = n * V
                let (a, w) = (answers[n], wrongs[n])
                switch metric {
                case .logitDiff, .normalizedLogitDiff:
                    g[o + a] += Float(scale)
                    g[o + w] -= Float(scale)
                case .prob, .loss, .kl:
                    let logp = Self.logSoftmax(row, n: V)
                    let pa = exp(logp[a])
                    for j in 0..<V {
                        let pj = exp(logp[j])
                        let d: Double
                        switch metric {
                        case .prob: d = pa * ((j == a ? 1 : 0) - pj)
                        case .loss: d = pj - (j == a ? 1 : 0)
                        default: d = pj - exp(cleanLogProbs[n][j])
                        }
                        g[o + j] = Float(d * scale)
                    }
                }
            }
        }
        return Tensor(shape: [N, V], data: g)
    }
}
