import Mechanic

extension HookedTransformer {
    /// TransformerLens's `tokens_to_residual_directions`: the unembedding column `W_U[:, t]` of each
    /// token, `[tokens, d_model]`.
    public func tokensToResidualDirections(_ tokens: [Int]) throws -> Tensor {
        let (D, V) = (config.dModel, config.dVocab)
        for t in tokens where t < 0 || t >= V { throw MechanicError.tokenOutOfRange(id: t, dVocab: V) }
        return Tensor(shape: [tokens.count, D]) { out in  // W_U[:, tokens] -> [tokens, d_model]
            for (i, t) in tokens.enumerated() { for m in 0..<D { out[i * D + m] = weights.W_U.data[m * V + t] } }
        }
    }
}

extension ActivationCache {
    /// TransformerLens's `logit_attrs`: each component's direct contribution to the logit of
    /// `tokens` (or to `logit[tokens] − logit[incorrectTokens]`), `[components, *batch_and_pos_dims]`.
    /// The stack is scaled by the cached final norm (`apply_ln_to_stack` at the unembed, centered
    /// for LayerNorm) and dotted with `W_U[:, token]`; `posSlice` must be the slice already applied
    /// to the stack. `tokens` holds one id (for every row), one per batch element, or one per row.
    ///
    /// As in TransformerLens the directions are plain `W_U` columns: on an unprocessed model with
    /// a final-norm weight use `DirectLogitAttribution`, which folds it in.
    public func logitAttrs(_ stack: Tensor, model: HookedTransformer, tokens: [Int], incorrectTokens: [Int]? = nil,
                           posSlice: PosSlice = .all) throws -> Tensor {
        var dirs = try model.tokensToResidualDirections(tokens)          // [n, d_model]
        if let incorrectTokens {
            guard incorrectTokens.count == tokens.count else {
                throw MechanicError.invalidArgument("tokens (\(tokens.count)) and incorrect tokens (\(incorrectTokens.count)) must have the same shape")
            }
            dirs = dirs - (try model.tokensToResidualDirections(incorrectTokens))
        }
        let scaled = try applyLNToStack(stack, model: model, layer: -1, posSlice: posSlice)
        return try dotRows(scaled, directions: dirs, batch: hasBatchDim ? activations["hook_embed"]?.shape.first ?? 1 : 1)
    }

    /// `logitAttrs` on a labelled stack.
    public func logitAttrs(_ stack: ResidualStack, model: HookedTransformer, tokens: [Int], incorrectTokens: [Int]? = nil,
                           posSlice: PosSlice = .all) throws -> Tensor {
        try logitAttrs(stack.tensor, model: model, tokens: tokens, incorrectTokens: incorrectTokens, posSlice: posSlice)
    }
}

/// `Σ_d stack[c, r, d] · dirs[k(r), d]` → `[components, rows...]`, where a row's direction is the
/// only one, its batch element's, or its own.
func dotRows(_ stack: Tensor, directions dirs: Tensor, batch: Int) throws -> Tensor {
    let D = stack.shape.last ?? 0
    let C = stack.shape.first ?? 0
    let rowsPer = C == 0 ? 0 : stack.count / (C * max(D, 1))
    let n = dirs.shape.first ?? 0
    let pick: (Int) -> Int
    if n == 1 {
        pick = { _ in 0 }
    } else if n == rowsPer {
        pick = { $0 }
    } else if n == batch, rowsPer % batch == 0 {
        let per = rowsPer / batch
        pick = { $0 / per }
    } else {
        throw MechanicError.invalidArgument("\(n) tokens do not match the stack's \(rowsPer) rows (give 1, one per batch element, or one per row)")
    }
    return Tensor(shape: Array(stack.shape.dropLast())) { out in   // [components, rows...]
        for c in 0..<C {
            for r in 0..<rowsPer {
                let s = (c * rowsPer + r) * D, k = pick(r) * D
                var acc: Float = 0
                for j in 0..<D { acc += stack.data[s + j] * dirs.data[k + j] }
                out[c * rowsPer + r] = acc
            }
        }
    }
}

/// Logit-difference metrics over a batch of logits `[batch, pos, d_vocab]`, read at each row's
/// final real token unless positions are given.
public enum LogitDifference {
    /// `logit[answer] − logit[wrong]` per batch row (one pair for all rows or one per row).
    public static func perRow(logits: Tensor, answers: [Int], wrong: [Int], positions: [Int]) throws -> [Float] {
        guard logits.rank == 3 else { throw MechanicError.invalidArgument("logits must be [batch, pos, d_vocab], got \(logits.shape)") }
        let (B, P, V) = (logits.shape[0], logits.shape[1], logits.shape[2])
        guard positions.count == B else { throw MechanicError.invalidArgument("\(positions.count) positions for a batch of \(B)") }
        func at(_ list: [Int], _ b: Int, _ what: String) throws -> Int {
            guard list.count == 1 || list.count == B else {
                throw MechanicError.invalidArgument("give one \(what) token or one per batch row (\(B)), not \(list.count)")
            }
            let t = list.count == 1 ? list[0] : list[b]
            guard t >= 0, t < V else { throw MechanicError.tokenOutOfRange(id: t, dVocab: V) }
            return t
        }
        return try (0..<B).map { b in
            let p = positions[b] < 0 ? P + positions[b] : positions[b]
            guard p >= 0, p < P else { throw MechanicError.invalidArgument("position \(positions[b]) is outside \(P) positions") }
            let row = (b * P + p) * V
            return try logits.data[row + at(answers, b, "answer")] - logits.data[row + at(wrong, b, "wrong")]
        }
    }

    /// The batch mean of `perRow` at the final real token of each row of `batch`.
    public static func mean(logits: Tensor, batch: TokenBatch, answers: [Int], wrong: [Int]) throws -> Float {
        let positions = logits.shape.count == 3 && logits.shape[1] == 1 ? [Int](repeating: 0, count: batch.batch) : batch.lastPositions
        let v = try perRow(logits: logits, answers: answers, wrong: wrong, positions: positions)
        return v.reduce(0, +) / Float(max(v.count, 1))
    }

    /// `(value − corrupt) / (clean − corrupt)`: 0 at the corrupted run, 1 at the clean run
    /// (nil when the two runs have the same metric).
    public static func normalized(_ value: Float, clean: Float, corrupt: Float) -> Float? {
        let denom = clean - corrupt
        guard denom != 0 else { return nil }
        return (value - corrupt) / denom
    }
}
