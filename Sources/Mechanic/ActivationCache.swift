import MechanicTensor

/// Activations recorded by a forward pass, keyed by TransformerLens hook names. Each tensor
/// keeps its batch axis (`[batch, pos, ...]`) unless `removingBatchDim()` was called.
public struct ActivationCache: Sendable {
    public var activations: [String: Tensor]
    public let config: ModelConfig
    /// Whether the batch axis is present.
    public private(set) var hasBatchDim = true

    public init(_ activations: [String: Tensor], config: ModelConfig, hasBatchDim: Bool = true) {
        self.activations = activations
        self.config = config
        self.hasBatchDim = hasBatchDim
    }

    public subscript(_ name: String) -> Tensor? { activations[name] }

    /// `cache["resid_pre", 3]`, as TransformerLens's `cache["resid_pre", 3]` / `utils.get_act_name`.
    public subscript(_ kind: String, _ layer: Int) -> Tensor? { activations[actName(kind, layer: layer)] }

    /// The activation, or an error naming the hook that was not cached.
    public func require(_ name: String) throws -> Tensor {
        guard let t = activations[name] else {
            throw MechanicError.invalidArgument("the cache holds no '\(name)' (cached: \(activations.count) hooks; widen the names filter)")
        }
        return t
    }

    /// Names in the order the forward pass fires them.
    public var names: [String] {
        let order = config.hookNames(HookOptions(attnResult: true, splitQKVInput: true, attnIn: true, mlpIn: true))
        let rank = Dictionary(uniqueKeysWithValues: order.enumerated().map { ($1, $0) })
        return activations.keys.sorted { (rank[$0] ?? Int.max, $0) < (rank[$1] ?? Int.max, $1) }
    }

    /// Drops the batch axis of a batch-of-one cache (`remove_batch_dim`).
    public func removingBatchDim() throws -> ActivationCache {
        guard hasBatchDim else { return self }
        var out: [String: Tensor] = [:]
        for (k, v) in activations {
            guard v.shape.first == 1 else {
                throw MechanicError.invalidArgument("cannot remove the batch axis: '\(k)' has batch size \(v.shape.first ?? 0)")
            }
            out[k] = v.reshaped(Array(v.shape.dropFirst()))
        }
        return ActivationCache(out, config: config, hasBatchDim: false)
    }

    /// Total bytes held.
    public var byteCount: Int { activations.values.reduce(0) { $0 + $1.count * 4 } }
}

/// TransformerLens's `utils.get_act_name`: `actName("resid_pre", layer: 3)` →
/// `blocks.3.hook_resid_pre`; `actName("scale", layer: 1, sub: "ln2")` → `blocks.1.ln2.hook_scale`.
/// Full hook names pass through unchanged.
public func actName(_ kind: String, layer: Int? = nil, sub: String? = nil) -> String {
    if kind.contains(".") || kind.hasPrefix("hook_") { return kind }
    let aliases = ["attn": "pattern", "attn_logits": "attn_scores"]
    let k = aliases[kind] ?? kind
    switch k {
    case "embed", "pos_embed", "tokens":
        return "hook_\(k)"
    case "scale", "normalized":
        if let layer { return "blocks.\(layer).\(sub ?? "ln1").hook_\(k)" }
        return "ln_final.hook_\(k)"
    default:
        break
    }
    guard let layer else { return "hook_\(k)" }
    switch k {
    case "q", "k", "v", "z", "rot_q", "rot_k", "pattern", "attn_scores", "result":
        return "blocks.\(layer).attn.hook_\(k)"
    case "pre", "post", "pre_linear", "mid":
        return "blocks.\(layer).mlp.hook_\(k)"
    default:
        return "blocks.\(layer).hook_\(k)"
    }
}
