import Mechanic

/// Which part of one activation a patch replaces — TransformerLens's patch setters
/// (`layer_pos_patch_setter`, `layer_head_vector_patch_setter`, …) as data.
///
/// Activations keep TransformerLens's axis order without the batch axis: residual-stream-like
/// `[pos, d]`, head vectors `[pos, head, d]` (q, k, v, z, result), patterns `[head, dest, src]`,
/// neurons `[pos, d_mlp]`.
public enum PatchSelection: Sendable, Hashable {
    /// Every element (the whole activation of the layer).
    case all
    /// `act[pos, ...]` (`layer_pos_patch_setter`).
    case position(Int)
    /// `act[:, head]` (`layer_head_vector_patch_setter`).
    case head(Int)
    /// `act[pos, head]` (`layer_pos_head_vector_patch_setter`).
    case positionHead(pos: Int, head: Int)
    /// `pattern[head, :, :]` (`layer_head_pattern_patch_setter`).
    case patternHead(Int)
    /// `pattern[head, dest, :]` (`layer_head_pos_pattern_patch_setter`).
    case patternDest(head: Int, dest: Int)
    /// `pattern[head, dest, src]` (`layer_head_dest_src_pos_pattern_patch_setter`).
    case patternDestSrc(head: Int, dest: Int, src: Int)
    /// `act[:, neuron]` (every position) — `mlp.hook_post` neurons.
    case neuron(Int)
    /// `act[pos, neuron]`.
    case positionNeuron(pos: Int, neuron: Int)
    /// Any union of the above (patched together in one run).
    indirect case union([PatchSelection])

    /// Flat element ranges of one batch row of an activation whose per-row shape is `shape`.
    func ranges(shape: [Int]) throws -> [Range<Int>] {
        func need(_ rank: Int, _ what: String) throws {
            guard shape.count >= rank else {
                throw MechanicError.invalidArgument("a \(what) patch needs an activation of rank ≥ \(rank + 1) (with batch); got per-row shape \(shape)")
            }
        }
        func check(_ i: Int, _ n: Int, _ what: String) throws {
            guard (0..<n).contains(i) else { throw MechanicError.invalidArgument("\(what) \(i) is out of range 0..<\(n)") }
        }
        let total = shape.reduce(1, *)
        switch self {
        case .all:
            return [0..<total]
        case let .position(p):
            try need(1, "position"); try check(p, shape[0], "position")
            let inner = total / shape[0]
            return [(p * inner)..<((p + 1) * inner)]
        case let .head(h):
            try need(2, "head"); try check(h, shape[1], "head")
            let inner = total / (shape[0] * shape[1])  // d_head or d_model
            return (0..<shape[0]).map { p in let o = (p * shape[1] + h) * inner; return o..<(o + inner) }
        case let .positionHead(p, h):
            try need(2, "position/head"); try check(p, shape[0], "position"); try check(h, shape[1], "head")
            let inner = total / (shape[0] * shape[1])
            let o = (p * shape[1] + h) * inner
            return [o..<(o + inner)]
        case let .patternHead(h):
            try need(3, "pattern head"); try check(h, shape[0], "head")
            let inner = shape[1] * shape[2]
            return [(h * inner)..<((h + 1) * inner)]
        case let .patternDest(h, d):
            try need(3, "pattern"); try check(h, shape[0], "head"); try check(d, shape[1], "destination position")
            let o = (h * shape[1] + d) * shape[2]
            return [o..<(o + shape[2])]
        case let .patternDestSrc(h, d, s):
            try need(3, "pattern"); try check(h, shape[0], "head"); try check(d, shape[1], "destination position")
            try check(s, shape[2], "source position")
            let o = (h * shape[1] + d) * shape[2] + s
            return [o..<(o + 1)]
        case let .neuron(n):
            try need(2, "neuron"); try check(n, shape[shape.count - 1], "neuron")
            let width = shape[shape.count - 1]
            return (0..<(total / width)).map { p in (p * width + n)..<(p * width + n + 1) }
        case let .positionNeuron(p, n):
            try need(2, "neuron"); try check(p, shape[0], "position"); try check(n, shape[shape.count - 1], "neuron")
            let o = p * shape[shape.count - 1] + n
            return [o..<(o + 1)]
        case let .union(parts):
            return try parts.flatMap { try $0.ranges(shape: shape) }
        }
    }

    /// The earliest position this selection touches at its layer, when it is confined to
    /// positions (nil = every position, or a pattern, which reads keys at every position).
    var firstPosition: Int? {
        switch self {
        case let .position(p), let .positionHead(p, _), let .positionNeuron(p, _): return p
        case let .union(parts):
            let firsts = parts.map(\.firstPosition)
            if firsts.contains(where: { $0 == nil }) { return nil }
            return firsts.compactMap { $0 }.min()
        default: return nil
        }
    }
}

/// One patch: a hook point and the part of its activation to replace.
public struct PatchSite: Sendable, Hashable {
    /// Full TransformerLens hook name, e.g. `blocks.3.attn.hook_z`.
    public var hook: String
    /// The block the hook belongs to.
    public var layer: Int
    public var selection: PatchSelection

    public init(hook: String, layer: Int, selection: PatchSelection) {
        self.hook = hook
        self.layer = layer
        self.selection = selection
    }

    /// `PatchSite(.z, layer: 3, .head(7))` — a site from `utils.get_act_name` vocabulary.
    public init(_ act: String, layer: Int, _ selection: PatchSelection) {
        self.init(hook: actName(act, layer: layer), layer: layer, selection: selection)
    }
}
