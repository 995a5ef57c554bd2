import Mechanic

/// Where a row enters the block of its patched layer: the hook point patched there, in block order.
package enum PackedStage: Int, Comparable {
    case residPre, qkv, pattern, z, result, attnOut, residMid, post, mlpOut, residPost

    package static func < (a: PackedStage, b: PackedStage) -> Bool { a.rawValue < b.rawValue }

    /// The stage of a hook-point kind (`.z` → `.z`); nil for points the packed engine does not patch.
    package init?(hookKind: HookKind) {
        switch hookKind {
        case .residPre: self = .residPre
        case .q, .k, .v: self = .qkv
        case .pattern: self = .pattern
        case .z: self = .z
        case .result: self = .result
        case .attnOut: self = .attnOut
        case .residMid: self = .residMid
        case .post: self = .post
        case .mlpOut: self = .mlpOut
        case .residPost: self = .residPost
        default: return nil
        }
    }
}

/// Values a row entering mid-block takes from the target run (packed suffixes), and the patch.
struct PackedEntry {
    var stage: PackedStage = .residPre
    /// Activations of the target run at the entry layer, by hook kind (`.q`, `.z`, …).
    var preset: [HookKind: Tensor] = [:]
    /// The hook kind patched and the function that patches it (packed, in the entry layout).
    var hookKind: HookKind? = nil
    var patch: ((inout Tensor) throws -> Void)? = nil

    func apply(_ kind: HookKind, _ t: inout Tensor) throws {
        if kind == hookKind, let patch { try patch(&t) }
    }

    /// The target's activation `kind` (packed), which the engine must have preset.
    func require(_ kind: HookKind) throws -> Tensor {
        guard let t = preset[kind] else { throw MechanicError.invalidArgument("packed patching: no preset \(kind.rawValue)") }
        return t
    }
}
