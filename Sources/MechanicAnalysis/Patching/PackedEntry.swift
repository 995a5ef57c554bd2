import Mechanic

/// Where a row enters the block of its patched layer: the hook point patched there, in block order.
package enum PackedStage: Int, Comparable {
    case residPre, qkv, pattern, z, result, attnOut, residMid, post, mlpOut, residPost

    package static func < (a: PackedStage, b: PackedStage) -> Bool { a.rawValue < b.rawValue }

    /// The stage of a hook-point kind (`hook_z` → `.z`); nil for points the packed engine does not patch.
    package init?(hookKind: String) {
        switch hookKind {
        case "hook_resid_pre": self = .residPre
        case "hook_q", "hook_k", "hook_v": self = .qkv
        case "hook_pattern": self = .pattern
        case "hook_z": self = .z
        case "hook_result": self = .result
        case "hook_attn_out": self = .attnOut
        case "hook_resid_mid": self = .residMid
        case "hook_post": self = .post
        case "hook_mlp_out": self = .mlpOut
        case "hook_resid_post": self = .residPost
        default: return nil
        }
    }
}

/// Values a row entering mid-block takes from the target run (packed suffixes), and the patch.
struct PackedEntry {
    var stage: PackedStage = .residPre
    /// Activations of the target run at the entry layer, by hook kind (`hook_q`, `hook_z`, …).
    var preset: [String: Tensor] = [:]
    /// The hook kind patched and the function that patches it (packed, in the entry layout).
    var hookKind = ""
    var patch: ((inout Tensor) throws -> Void)? = nil

    func apply(_ kind: String, _ t: inout Tensor) throws {
        if kind == hookKind, let patch { try patch(&t) }
    }

    /// The target's activation `kind` (packed), which the engine must have preset.
    func require(_ kind: String) throws -> Tensor {
        guard let t = preset[kind] else { throw MechanicError.invalidArgument("packed patching: no preset \(kind)") }
        return t
    }
}
