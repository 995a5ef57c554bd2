import Foundation
import Mechanic

/// The metrics EAP and EAP-IG can take gradients of, per pair at the final position (mean over
/// pairs): `logit_diff` (`logits[answer] − logits[wrong]`), `prob` (`p(answer)`) and `loss`
/// (`−log p(answer)`). `normalized_logit_diff` is refused — it is the logit difference times a
/// constant, so it ranks edges identically — and so is `kl`: KL(clean ‖ patched) has its
/// minimum at the clean run, where EAP takes its gradient, so every score would be 0.
enum EAPMetric {
    static func check(_ metric: PatchingMetric) throws {
        switch metric {
        case .logitDiff, .prob, .loss: return
        case .normalizedLogitDiff:
            throw MechanicError.invalidArgument("--eap-metric normalized_logit_diff is the logit difference times a constant (same ranking); use logit_diff")
        case .kl:
            throw MechanicError.invalidArgument("--eap-metric kl: KL(clean ‖ patched) is minimal at the clean run, where EAP takes its gradient, so every score would be 0; use logit_diff, prob or loss")
        }
    }

    /// `∂metric/∂logits` of one pair's final-position logits row, `[d_vocab]`, times `scale`.
    static func gradient(_ metric: PatchingMetric, row: UnsafePointer<Float>, dVocab V: Int, answer: Int, wrong: Int,
                         scale: Float) -> [Float] {
        var d = [Float](repeating: 0, count: V)
        switch metric {
        case .prob:
            // ∂p_a/∂z_j = p_a (δ_aj − p_j)
            let lp = MetricContext.logSoftmax(row, n: V)
            let pa = exp(lp[answer])
            for j in 0..<V { d[j] = Float(-pa * exp(lp[j])) * scale }
            d[answer] += Float(pa) * scale
        case .loss:
            // ∂(−log p_a)/∂z_j = p_j − δ_aj
            let lp = MetricContext.logSoftmax(row, n: V)
            for j in 0..<V { d[j] = Float(exp(lp[j])) * scale }
            d[answer] -= scale
        default:
            d[answer] += scale
            d[wrong] -= scale
        }
        return d
    }
}
