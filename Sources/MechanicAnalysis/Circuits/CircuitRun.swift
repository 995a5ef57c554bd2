import Foundation
import Mechanic
import MechanicTensor

/// The outputs of every upstream node of the graph on one batch: `input` (`hook_embed` +
/// `hook_pos_embed`), each head's `hook_result` and each MLP's `hook_mlp_out`.
struct NodeOutputs {
    var input: Tensor                 // [batch, pos, d_model]
    var results: [Tensor]             // per layer [batch, pos, head, d_model]
    var mlp: [Tensor]                 // per layer [batch, pos, d_model] (empty when attention-only)
    /// `hook_embed` alone (the token part of `input`).
    var embed: Tensor

    /// Node `node`'s output, `[batch, pos, d_model]`.
    func output(_ node: CircuitGraph.Node) -> Tensor {
        switch node {
        case .input: return input
        case let .head(l, h): return Self.head(results[l], h)
        case let .mlp(l): return mlp[l]
        case .logits: return Tensor(zeros: [0])
        }
    }

    /// `[batch, pos, head, d_model] → [batch, pos, d_model]` of one head.
    static func head(_ r: Tensor, _ h: Int) -> Tensor {
        let (B, P, H, D) = (r.shape[0], r.shape[1], r.shape[2], r.shape[3])
        return Tensor(shape: [B, P, D]) { out in
            for t in 0..<(B * P) { for m in 0..<D { out[t * D + m] = r.data[(t * H + h) * D + m] } }
        }
    }
}

/// Prompt pairs prepared for circuit discovery: grouped by length (no padding), each group's
/// clean and corrupted node outputs, the clean residual stream before every layer, and the
/// final-position logits of both runs (pairs in `order`).
final class CircuitRun {
    struct Group {
        var pairs: [Int]                // indices into CircuitRun.pairs
        var clean: TokenBatch
        var corrupt: TokenBatch
        var cleanOut: NodeOutputs
        var corruptOut: NodeOutputs
        var residPre: [Tensor]          // clean hook_resid_pre per layer
        /// The corrupted run's input of each layer's heads (`hook_resid_pre`) and MLP
        /// (`hook_resid_mid`, or `hook_resid_pre` for parallel attention + MLP), per layer.
        var corruptAttnIn: [Tensor]
        var corruptMLPIn: [Tensor]
    }

    let model: HookedTransformer
    let graph: CircuitGraph
    let pairs: [PatchingPair]
    let groups: [Group]
    /// Pair indices in the order the groups list them (the row order of every logits array).
    let order: [Int]
    let cleanLogits: [Float]            // [pairs · d_vocab] in `order`
    let corruptLogits: [Float]

    init(model: HookedTransformer, pairs: [PatchingPair]) throws {
        guard !pairs.isEmpty else { throw MechanicError.emptyInput("circuit discovery needs at least one prompt pair") }
        guard model.config.nLayers > 0 else { throw MechanicError.invalidArgument("circuit discovery needs a model with at least one layer") }
        for (i, p) in pairs.enumerated() { try p.validate(index: i + 1) }
        self.model = model
        self.pairs = pairs
        graph = CircuitGraph(model.config)
        let byLength = Dictionary(grouping: pairs.indices, by: { pairs[$0].clean.count })
        var groups: [Group] = []
        var cl: [Float] = [], co: [Float] = []
        for length in byLength.keys.sorted() {
            let idx = byLength[length] ?? []
            let clean = try TokenBatch(ids: idx.map { pairs[$0].clean })
            let corrupt = try TokenBatch(ids: idx.map { pairs[$0].corrupt })
            let (cleanOut, cleanResid, _, cLogits) = try Self.outputs(model, clean)
            let (corruptOut, corruptResid, corruptMLPIn, kLogits) = try Self.outputs(model, corrupt)
            groups.append(Group(pairs: idx, clean: clean, corrupt: corrupt, cleanOut: cleanOut, corruptOut: corruptOut, residPre: cleanResid,
                                corruptAttnIn: corruptResid, corruptMLPIn: corruptMLPIn))
            cl += cLogits
            co += kLogits
        }
        self.groups = groups
        order = groups.flatMap(\.pairs)
        cleanLogits = cl
        corruptLogits = co
    }

    /// One forward caching every node output, the residual stream before each layer and each MLP's input.
    private static func outputs(_ model: HookedTransformer, _ batch: TokenBatch) throws -> (NodeOutputs, [Tensor], [Tensor], [Float]) {
        let c = model.config
        var names = [HookKind.embed.rawValue]
        let pos = c.hookNames().contains(HookKind.posEmbed.rawValue)
        if pos { names.append(HookKind.posEmbed.rawValue) }
        for l in 0..<c.nLayers {
            names += [HookKind.result.name(layer: l), HookKind.residPre.name(layer: l)]
            if !c.attnOnly { names.append(HookKind.mlpOut.name(layer: l)) }
            if !c.attnOnly, !c.parallelAttnMLP { names.append(HookKind.residMid.name(layer: l)) }
        }
        let r = try model.forward(batch, options: ForwardOptions(cache: .names(names), logits: .last))
        let cache = r.cache
        let embed = try cache.require(HookKind.embed.rawValue)
        var input = embed
        if pos { input.add(try cache.require(HookKind.posEmbed.rawValue)) }
        let out = NodeOutputs(input: input,
                              results: try (0..<c.nLayers).map { try cache.require(HookKind.result.name(layer: $0)) },
                              mlp: c.attnOnly ? [] : try (0..<c.nLayers).map { try cache.require(HookKind.mlpOut.name(layer: $0)) },
                              embed: embed)
        let resid = try (0..<c.nLayers).map { try cache.require(HookKind.residPre.name(layer: $0)) }
        let mlpIn = c.attnOnly ? [] : c.parallelAttnMLP ? resid : try (0..<c.nLayers).map { try cache.require(HookKind.residMid.name(layer: $0)) }
        return (out, resid, mlpIn, r.logits?.data ?? [])
    }

    /// A metric over final-position logits in `order`.
    func context(_ metric: PatchingMetric) throws -> MetricContext {
        try MetricContext(metric: metric, answers: order.map { pairs[$0].answer }, wrongs: order.map { pairs[$0].wrong },
                          clean: cleanLogits, corrupt: corruptLogits, dVocab: model.config.dVocab)
    }
}
