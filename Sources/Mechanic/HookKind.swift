/// What a hook point is, apart from its layer: the TransformerLens name of the point inside its
/// block (`attn.hook_q`, `hook_resid_pre`, `ln2.hook_scale`) or of a global point (`hook_embed`,
/// `ln_final.hook_scale`). Parse names with `HookKind(name:)` / `HookName(_:)` rather than cutting
/// strings; `name(layer:)` builds them back.
public enum HookKind: String, CaseIterable, Sendable, Hashable, Codable {
    // Global points.
    case embed = "hook_embed"
    case posEmbed = "hook_pos_embed"
    case tokens = "hook_tokens"
    case lnFinalScale = "ln_final.hook_scale"
    case lnFinalNormalized = "ln_final.hook_normalized"
    // Per block `blocks.{l}.`, in firing order.
    case residPre = "hook_resid_pre"
    case attnIn = "hook_attn_in"
    case qInput = "hook_q_input"
    case kInput = "hook_k_input"
    case vInput = "hook_v_input"
    case ln1Scale = "ln1.hook_scale"
    case ln1Normalized = "ln1.hook_normalized"
    case q = "attn.hook_q"
    case k = "attn.hook_k"
    case v = "attn.hook_v"
    case rotQ = "attn.hook_rot_q"
    case rotK = "attn.hook_rot_k"
    case attnScores = "attn.hook_attn_scores"
    case pattern = "attn.hook_pattern"
    case z = "attn.hook_z"
    case result = "attn.hook_result"
    case attnOut = "hook_attn_out"
    case residMid = "hook_resid_mid"
    case mlpIn = "hook_mlp_in"
    case ln2Scale = "ln2.hook_scale"
    case ln2Normalized = "ln2.hook_normalized"
    case pre = "mlp.hook_pre"
    case preLinear = "mlp.hook_pre_linear"
    case post = "mlp.hook_post"
    case mlpOut = "hook_mlp_out"
    case residPost = "hook_resid_post"

    /// Whether the point lives in a block (`blocks.{l}.…`) rather than once per model.
    public var isPerBlock: Bool {
        switch self {
        case .embed, .posEmbed, .tokens, .lnFinalScale, .lnFinalNormalized: return false
        default: return true
        }
    }

    /// The last component of the name (`hook_q`, `hook_scale`), as TransformerLens's `hook_` attributes.
    public var hookAttribute: String { String(rawValue.split(separator: ".").last ?? "") }

    /// The name without the `hook_` prefix and sub-module (`q`, `resid_pre`, `scale`): the kind
    /// `utils.get_act_name` takes.
    public var shortName: String { String(hookAttribute.dropFirst("hook_".count)) }

    /// The full hook name at `layer` (ignored for global points; required for block points).
    public func name(layer: Int?) -> String {
        guard isPerBlock, let layer else { return rawValue }
        return "blocks.\(layer).\(rawValue)"
    }

    /// The kind of a full hook name (`blocks.3.attn.hook_z` → `.z`, `ln_final.hook_scale` →
    /// `.lnFinalScale`); nil when the name is not a hook point's name.
    public init?(name: String) {
        guard let parsed = HookName(name) else { return nil }
        self = parsed.kind
    }

    /// Which optional points (`HookOptions`) this kind needs switched on to fire.
    func enable(in o: inout HookOptions) {
        switch self {
        case .result: o.attnResult = true
        case .qInput, .kInput, .vInput: o.splitQKVInput = true
        case .attnIn: o.attnIn = true
        case .mlpIn: o.mlpIn = true
        default: break
        }
    }
}

/// A parsed hook-point name: its kind and, for block points, its layer.
/// `HookName("blocks.3.attn.hook_z")` = `(.z, 3)`; `.name` gives the string back.
public struct HookName: Sendable, Hashable, CustomStringConvertible {
    public let kind: HookKind
    public let layer: Int?

    public init(_ kind: HookKind, layer: Int? = nil) {
        self.kind = kind
        self.layer = kind.isPerBlock ? layer : nil
    }

    public init?(_ name: String) {
        if let kind = HookKind(rawValue: name) {
            guard !kind.isPerBlock else { return nil }
            self.init(kind)
            return
        }
        guard name.hasPrefix("blocks.") else { return nil }
        let rest = name.dropFirst("blocks.".count)
        let digits = rest.prefix { $0.isASCII && $0.isNumber }
        guard let layer = Int(digits), String(layer) == digits, rest.dropFirst(digits.count).first == "." else { return nil }
        guard let kind = HookKind(rawValue: String(rest.dropFirst(digits.count + 1))), kind.isPerBlock else { return nil }
        self.init(kind, layer: layer)
    }

    public var name: String { kind.name(layer: layer) }
    public var description: String { name }
}

extension HookPoint {
    /// The point's kind (nil only for a name that is not a hook point's).
    public var kind: HookKind? { HookName(name)?.kind }
}
