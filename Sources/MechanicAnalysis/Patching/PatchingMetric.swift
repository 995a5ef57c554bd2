import Foundation
import Mechanic

/// What a patched run is scored by, always read at the final position of each prompt and
/// averaged over the prompt pairs of a run.
public enum PatchingMetric: String, CaseIterable, Sendable, Codable {
    /// `logits[answer] − logits[wrong]` (the default; TransformerLens's usual patching metric).
    case logitDiff = "logit_diff"
    /// `(m − corrupt) / (clean − corrupt)` of the logit difference: 0 = the corrupted run,
    /// 1 = the clean run. With several pairs the means are normalised (as a batched
    /// TransformerLens metric does).
    case normalizedLogitDiff = "normalized_logit_diff"
    /// Probability of the answer token.
    case prob
    /// Cross-entropy of the answer token, `−log p(answer)`.
    case loss
    /// `KL(p_clean ‖ p_patched)` of the next-token distributions (0 for the clean run).
    case kl
}

/// Scores final-position logits for the pairs of one run.
struct MetricContext {
    let metric: PatchingMetric
    let answers: [Int]
    let wrongs: [Int]
    /// Clean log-probabilities at the final position, per pair (KL only).
    let cleanLogProbs: [[Double]]
    /// Mean logit differences of the clean and corrupted runs (for normalisation and reports).
    private(set) var cleanLogitDiff: Double = 0
    private(set) var corruptLogitDiff: Double = 0
    /// The metric of the clean and of the corrupted run, in the metric's own units.
    private(set) var cleanMetric: Double = 0
    private(set) var corruptMetric: Double = 0
    /// The clean and corrupted logit differences `finish` normalises by (these pairs' own, or
    /// those of every pair of a streamed sweep).
    private(set) var normalization: (clean: Double, corrupt: Double) = (0, 0)

    /// `clean`/`corrupt`: final-position logits, `[pairs, d_vocab]` flattened. `normalization`
    /// replaces the pairs' own clean and corrupted logit differences in `finish`.
    init(metric: PatchingMetric, answers: [Int], wrongs: [Int], clean: [Float], corrupt: [Float], dVocab: Int,
         normalization: (clean: Double, corrupt: Double)? = nil) throws {
        self.metric = metric
        self.answers = answers
        self.wrongs = wrongs
        for id in answers + wrongs where !(0..<dVocab).contains(id) {
            throw MechanicError.tokenOutOfRange(id: id, dVocab: dVocab)
        }
        if metric == .logitDiff || metric == .normalizedLogitDiff, let same = zip(answers, wrongs).first(where: { $0 == $1 }) {
            throw MechanicError.invalidArgument("the answer and the wrong token are the same token (id \(same.0)), so logit[answer] − logit[wrong] is always 0; give a different wrong token")
        }
        guard clean.count == answers.count * dVocab, corrupt.count == clean.count else {
            throw MechanicError.invalidArgument("metric: expected \(answers.count) final-position logit rows of \(dVocab)")
        }
        cleanLogProbs = metric == .kl ? (0..<answers.count).map { n in
            clean.withUnsafeBufferPointer { p in p.baseAddress.map { Self.logSoftmax($0 + n * dVocab, n: dVocab) } ?? [] }
        } : []
        let ld = MetricContext(copy: self, metric: .logitDiff)
        cleanLogitDiff = ld.mean(clean, dVocab: dVocab)
        corruptLogitDiff = ld.mean(corrupt, dVocab: dVocab)
        if metric == .normalizedLogitDiff {
            self.normalization = try normalization ?? Self.checkNormalizable(clean: cleanLogitDiff, corrupt: corruptLogitDiff)
            cleanMetric = finish(cleanLogitDiff)
            corruptMetric = finish(corruptLogitDiff)
        } else {
            cleanMetric = mean(clean, dVocab: dVocab)
            corruptMetric = mean(corrupt, dVocab: dVocab)
        }
    }

    private init(copy c: MetricContext, metric: PatchingMetric) {
        self.metric = metric
        answers = c.answers
        wrongs = c.wrongs
        cleanLogProbs = c.cleanLogProbs
    }

    /// The raw per-pair value (logit difference for the normalised metric) of one logits row.
    func raw(_ row: UnsafePointer<Float>, dVocab V: Int, pair n: Int) -> Double {
        let a = answers[n]
        switch metric {
        case .logitDiff, .normalizedLogitDiff:
            return Double(row[a]) - Double(row[wrongs[n]])
        case .prob:
            return exp(Double(row[a] - Rows.logSumExp(row, n: V)))
        case .loss:
            return Double(Rows.logSumExp(row, n: V) - row[a])
        case .kl:
            let patched = Self.logSoftmax(row, n: V)
            var kl = 0.0
            for j in 0..<V {
                let lp = cleanLogProbs[n][j]
                kl += exp(lp) * (lp - patched[j])
            }
            return kl
        }
    }

    /// Log-softmax of a float row in double precision (one formula for clean and patched rows,
    /// so that KL(p ‖ p) is exactly 0).
    static func logSoftmax(_ row: UnsafePointer<Float>, n: Int) -> [Double] {
        var m = -Double.infinity
        for j in 0..<n { m = max(m, Double(row[j])) }
        var s = 0.0
        for j in 0..<n { s += exp(Double(row[j]) - m) }
        let lse = m + log(s)
        return (0..<n).map { Double(row[$0]) - lse }
    }

    /// Mean over pairs of `logits` holding one row per pair, `[pairs, d_vocab]`, as the metric.
    func mean(_ logits: [Float], dVocab V: Int) -> Double {
        logits.withUnsafeBufferPointer { p in
            guard let base = p.baseAddress else { return .nan }
            return finish((0..<answers.count).reduce(0.0) { $0 + raw(base + $1 * V, dVocab: V, pair: $1) } / Double(answers.count))
        }
    }

    /// Turns a mean raw value into the metric (normalising the logit difference).
    func finish(_ mean: Double) -> Double {
        metric == .normalizedLogitDiff ? (mean - normalization.corrupt) / (normalization.clean - normalization.corrupt) : mean
    }

    /// The normalised logit difference needs different clean and corrupted logit differences.
    static func checkNormalizable(clean: Double, corrupt: Double) throws -> (clean: Double, corrupt: Double) {
        guard clean != corrupt else {
            throw MechanicError.invalidArgument("the clean and corrupted runs have the same logit difference (\(clean)), so the normalised logit difference is undefined; use --metric logit_diff")
        }
        return (clean, corrupt)
    }

    /// Metric values of consecutive variants in `logits` (`[variants · pairs, d_vocab]`, the
    /// pairs of a variant adjacent).
    func variants(_ logits: Tensor, count: Int) -> [Double] {
        let V = logits.shape.last ?? 0
        let N = answers.count
        return logits.data.withUnsafeBufferPointer { p in
            guard let base = p.baseAddress else { return [] }
            return (0..<count).map { v in
                var s = 0.0
                for n in 0..<N { s += raw(base + (v * N + n) * V, dVocab: V, pair: n) }
                return finish(s / Double(N))
            }
        }
    }
}
