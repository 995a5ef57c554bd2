import Foundation
import Mechanic

/// What to read at each token: one component of a hook's activation (a neuron:
/// `blocks.L.mlp.hook_post[..., n]`) or the dot product of the activation with a direction.
/// The hook must have a position axis (`[batch, pos, ...]`); the features after it are
/// flattened (so `attn.hook_z` has `n_heads · d_head` components).
public struct ActivationProbe: Codable, Sendable, Equatable {
    public enum Readout: Codable, Sendable, Equatable {
        /// The activation's component `index` (flattened over the axes after `pos`).
        case component(Int)
        /// `activation · vector` (the vector has one entry per flattened component).
        case direction([Float])
    }

    public var hook: String
    public var readout: Readout

    public init(hook: String, readout: Readout) {
        self.hook = actName(hook)
        self.readout = readout
    }

    /// MLP neuron `index` of layer `layer`: `blocks.{layer}.mlp.hook_post[..., index]`.
    public static func neuron(layer: Int, index: Int) -> ActivationProbe {
        ActivationProbe(hook: "blocks.\(layer).mlp.hook_post", readout: .component(index))
    }

    /// `activation · vector` at `hook`.
    public static func direction(hook: String, vector: [Float]) -> ActivationProbe {
        ActivationProbe(hook: hook, readout: .direction(vector))
    }

    /// `blocks.1.mlp.hook_post[42]` or `blocks.3.hook_resid_post · direction (|v| = 1.0)`.
    public var label: String {
        switch readout {
        case let .component(i): return "\(hook)[\(i)]"
        case let .direction(v):
            let norm = sqrt(v.reduce(0) { $0 + Double($1) * Double($1) })
            return "\(hook) · direction (|v| = \(HTMLText.format(norm)))"
        }
    }

    /// The block whose output this hook belongs to (nil for `hook_embed`/`hook_pos_embed` and
    /// `ln_final`), from the `blocks.{L}.` prefix.
    var layer: Int? {
        guard hook.hasPrefix("blocks.") else { return nil }
        return Int(hook.dropFirst("blocks.".count).prefix { $0.isNumber })
    }

    /// The forward options that run only the blocks needed to reach the hook and cache just it.
    public func forwardOptions(for config: ModelConfig) throws -> ForwardOptions {
        if let kind = HookKind(name: hook), kind == .pattern || kind == .attnScores {
            throw MechanicError.invalidArgument("\(hook) is [batch, head, query, key], not per token; probe a hook with a position axis (e.g. attn.hook_z, hook_resid_post, mlp.hook_post)")
        }
        var options = ForwardOptions(cache: .names([hook]), logits: .none)
        if hook == "hook_embed" || hook == "hook_pos_embed" {
            options.stopAtLayer = 0
        } else if let l = layer {
            guard l >= 0, l < config.nLayers else {
                throw MechanicError.invalidArgument("\(hook): layer \(l) does not exist (the model has \(config.nLayers) layers)")
            }
            options.stopAtLayer = l + 1 < config.nLayers ? l + 1 : nil
        }
        return options
    }

    /// Per-position values of an activation `[batch, pos, ...]`: `[batch][pos]`.
    func read(_ act: Tensor) throws -> [[Float]] {
        guard act.rank >= 3 else {
            throw MechanicError.invalidArgument("\(hook) has shape \(act.shape); a probe needs [batch, pos, features...]")
        }
        let (B, P) = (act.shape[0], act.shape[1])
        let width = act.shape.dropFirst(2).reduce(1, *)
        var out = [[Float]](repeating: [Float](repeating: 0, count: P), count: B)
        switch readout {
        case let .component(i):
            guard i >= 0, i < width else {
                throw MechanicError.invalidArgument("\(hook) has \(width) components per token (shape \(Array(act.shape.dropFirst(2)))); index \(i) is out of range")
            }
            for b in 0..<B { for p in 0..<P { out[b][p] = act.data[(b * P + p) * width + i] } }
        case let .direction(v):
            guard v.count == width else {
                throw MechanicError.invalidArgument("the direction has \(v.count) entries but \(hook) has \(width) components per token")
            }
            act.data.withUnsafeBufferPointer { a in
                for b in 0..<B {
                    for p in 0..<P {
                        let o = (b * P + p) * width
                        var s: Float = 0
                        for j in 0..<width { s += a[o + j] * v[j] }
                        out[b][p] = s
                    }
                }
            }
        }
        return out
    }
}
