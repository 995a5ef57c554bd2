import MechanicTensor

/// Next-token cross-entropy as TransformerLens's `lm_cross_entropy_loss`: positions whose token
/// or next token is padding are not counted.
public enum Loss {
    /// `-log p(token[p+1] | ..p)` for every position, `[batch, pos - 1]` (0 where masked).
    public static func perToken(logits: Tensor, batch: TokenBatch) -> Tensor {
        let (B, P, V) = (logits.shape[0], logits.shape[1], logits.shape[2])
        return Tensor(shape: [B, max(P - 1, 0)]) { out in
            logits.data.withUnsafeBufferPointer { lp in
                guard let base = lp.baseAddress else { return }
                for b in 0..<B {
                    for p in 0..<(P - 1) {
                        let counted = batch.mask[b][p] == 1 && batch.mask[b][p + 1] == 1
                        let row = base + (b * P + p) * V
                        out[b * (P - 1) + p] = counted ? Rows.logSumExp(row, n: V) - row[batch.ids[b][p + 1]] : 0
                    }
                }
            }
        }
    }

    /// Mean next-token loss over counted positions.
    public static func mean(logits: Tensor, batch: TokenBatch) -> Float {
        let per = perToken(logits: logits, batch: batch)
        var n = 0
        for b in 0..<batch.batch { for p in 0..<max(batch.length - 1, 0) where batch.mask[b][p] == 1 && batch.mask[b][p + 1] == 1 { n += 1 } }
        return n == 0 ? 0 : Float(per.data.reduce(0.0) { $0 + Double($1) } / Double(n))
    }
}

extension HookedTransformer {
    /// Mean next-token loss of `batch` (`return_type="loss"`).
    public func loss(_ batch: TokenBatch) throws -> Float {
        guard let logits = try forward(batch).logits else { return 0 }
        return Loss.mean(logits: logits, batch: batch)
    }

    /// Per-token loss, `[batch, pos - 1]` (`loss_per_token=True`).
    public func lossPerToken(_ batch: TokenBatch) throws -> Tensor {
        guard let logits = try forward(batch).logits else { return Tensor(zeros: [0]) }
        return Loss.perToken(logits: logits, batch: batch)
    }

    /// `run_with_cache`: logits and the activations the filter selects.
    public func runWithCache(_ batch: TokenBatch, names: NamesFilter = .all, hookOptions: HookOptions = HookOptions(),
                             hooks: [Hook] = []) throws -> (logits: Tensor, cache: ActivationCache) {
        let r = try forward(batch, options: ForwardOptions(hooks: hooks, cache: names, hookOptions: hookOptions))
        return (r.logits ?? Tensor(zeros: [0]), r.cache)
    }

    /// `run_with_hooks`: logits with the hooks applied; the hooks are gone afterwards.
    public func runWithHooks(_ batch: TokenBatch, hooks: [Hook]) throws -> Tensor {
        try forward(batch, options: ForwardOptions(hooks: hooks)).logits ?? Tensor(zeros: [0])
    }
}
