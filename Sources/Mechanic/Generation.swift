import Foundation
import MechanicTensor

/// How to choose each next token.
public struct SamplingOptions: Sendable {
    /// 0 means greedy (argmax).
    public var temperature: Float = 1
    public var topK: Int? = nil
    public var topP: Float? = nil
    public var seed: UInt64 = 0
    /// Stop a row once it produces the EOS token (it is then padded with EOS).
    public var stopAtEOS = true
    public init(temperature: Float = 1, topK: Int? = nil, topP: Float? = nil, seed: UInt64 = 0, stopAtEOS: Bool = true) {
        self.temperature = temperature; self.topK = topK; self.topP = topP; self.seed = seed; self.stopAtEOS = stopAtEOS
    }
    public static let greedy = SamplingOptions(temperature: 0)
}

/// SplitMix64: a small, seedable generator so generation is reproducible across platforms.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension SamplingOptions {
    /// Picks a token from one row of logits (TransformerLens's `sample_logits`: temperature, then
    /// top-k, then top-p nucleus; both filters may be combined here).
    public func sample(_ logits: ArraySlice<Float>, rng: inout SplitMix64) -> Int {
        let row = Array(logits)
        if temperature == 0 { return row.indices.max { row[$0] < row[$1] } ?? 0 }
        var scaled = row.map { $0 / temperature }
        if let k = topK, k > 0, k < scaled.count {
            let kth = scaled.sorted(by: >)[k - 1]
            for i in scaled.indices where scaled[i] < kth { scaled[i] = -.infinity }
        }
        if let p = topP, p < 1 {
            let order = scaled.indices.sorted { scaled[$0] > scaled[$1] }
            let m = scaled[order[0]]
            let exps = order.map { exp(Double(scaled[$0] - m)) }
            let total = exps.reduce(0, +)
            var cum = 0.0
            for (rank, i) in order.enumerated() {
                if cum > Double(p) && rank > 0 { scaled[i] = -.infinity }
                cum += exps[rank] / total
            }
        }
        let m = scaled.max() ?? 0
        let weights = scaled.map { exp(Double($0 - m)) }
        var u = Double(rng.next() >> 11) / Double(1 << 53) * weights.reduce(0, +)
        for (i, w) in weights.enumerated() {
            u -= w
            if u <= 0 && w > 0 { return i }
        }
        return weights.lastIndex { $0 > 0 } ?? 0
    }
}

extension HookedTransformer {
    /// Generates up to `maxNewTokens` tokens after each row of `prompt` with a key-value cache.
    /// Padding in the prompt is masked throughout; left padding is the natural layout (right
    /// padding is converted to left so every row continues from its own last token).
    /// Returns each row's prompt tokens (unpadded) followed by the generated tokens.
    public func generate(_ prompt: TokenBatch, maxNewTokens: Int, sampling: SamplingOptions = .greedy) throws -> [[Int]] {
        let leftPadded = try TokenBatch.padding((0..<prompt.batch).map { prompt.tokens($0) },
                                                padId: prompt.ids[0].first ?? 0, side: .left)
        guard maxNewTokens >= 0 else { throw MechanicError.invalidArgument("maxNewTokens must be ≥ 0, found \(maxNewTokens)") }
        let (total, overflow) = leftPadded.length.addingReportingOverflow(maxNewTokens)
        guard !overflow, total <= config.nCtx else {
            throw MechanicError.invalidArgument("the prompt's \(leftPadded.length) tokens plus \(maxNewTokens) new tokens exceed the model's context (n_ctx) of \(config.nCtx); ask for at most \(max(0, config.nCtx - leftPadded.length)) new tokens")
        }
        let cache = KVCache(config: config, batch: prompt.batch)
        var rng = SplitMix64(seed: sampling.seed)
        var outputs = (0..<prompt.batch).map { prompt.tokens($0) }
        var finished = [Bool](repeating: false, count: prompt.batch)
        let eos = tokenizer?.eosTokenId
        var step = leftPadded
        for _ in 0..<maxNewTokens {
            let r = try forward(step, options: ForwardOptions(logits: .last), kvCache: cache)
            guard let logits = r.logits else { break }
            var next: [Int] = []
            for b in 0..<prompt.batch {
                let V = config.dVocab
                var id = sampling.sample(logits.data[(b * V)..<((b + 1) * V)], rng: &rng)
                if finished[b], let eos { id = eos }
                next.append(id)
                if !finished[b] { outputs[b].append(id) }
                if sampling.stopAtEOS, let eos, id == eos { finished[b] = true }
            }
            if finished.allSatisfy({ $0 }) { break }
            step = try TokenBatch(ids: next.map { [$0] })
        }
        return outputs
    }
}
