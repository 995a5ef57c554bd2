import Foundation
import Mechanic

/// One shard's share of an EAP / EAP-IG run (`mechanic circuit --shard K/N`): the edge scores
/// summed over the shard's pairs only, each already divided by the pair count of the whole run,
/// so that the merge adds the shards' scores and gets the unsharded scores (to float32 rounding:
/// the shards sum their pairs in other groups). ACDC is not split: each of its sequential edge
/// decisions needs the metric over every pair.
public struct CircuitPartial: Codable, Sendable, Equatable {
    public var method: CircuitMethod
    public var igSteps: Int
    public var topN: Int?
    public var threshold: Double?
    public var eapMetric: PatchingMetric
    public var graph: CircuitGraph.Shape
    /// Pairs of the whole run, and of this shard.
    public var pairs: Int
    public var pairsInShard: Int
    /// Scores in graph order (stored as the partial file's float64 array, not in the JSON).
    public var scores: [Double] = []

    enum CodingKeys: String, CodingKey { case method, igSteps, topN, threshold, eapMetric, graph, pairs, pairsInShard }
}

extension CircuitDiscovery {
    /// Shard `shard`'s partial of an EAP or EAP-IG run over `pairs` (the pairs of the whole run;
    /// the shard scores `shard.range(of: pairs.count)`).
    public static func partial(model: HookedTransformer, pairs: [PatchingPair], options o: CircuitOptions, shard: Shard,
                               progress: WorkProgress? = nil) throws -> CircuitPartial {
        try o.validate()
        guard o.method != .acdc else {
            throw ShardError.unsupported("ACDC cannot be sharded: each edge decision needs the metric over every pair after the decisions before it; run it without --shard")
        }
        guard !o.evaluate else {
            throw ShardError.unsupported("--evaluate cannot be sharded: faithfulness patches the chosen circuit on every pair; run `circuit --evaluate` without --shard")
        }
        guard !pairs.isEmpty else { throw MechanicError.emptyInput("circuit discovery needs at least one prompt pair") }
        let graph = CircuitGraph(model.config)
        let mine = Array(pairs[shard.range(of: pairs.count)])
        var scores = [Double](repeating: 0, count: graph.edges.count)
        if !mine.isEmpty {
            let run = try CircuitRun(model: model, pairs: mine)
            scores = try run.edgeAttribution(igSteps: o.method == .eapIG ? o.igSteps : nil, metric: o.eapMetric, totalPairs: pairs.count,
                                             progress: progress).map(Double.init)
        }
        return CircuitPartial(method: o.method, igSteps: o.igSteps, topN: o.topN, threshold: o.threshold, eapMetric: o.eapMetric, graph: graph.shape,
                              pairs: pairs.count, pairsInShard: mine.count, scores: scores)
    }

    /// The result of one unsharded run from the partials of all its shards (checked with
    /// `ShardMerge.check` first: same model, options and inputs, every shard once).
    public static func merge(_ parts: [CircuitPartial]) throws -> CircuitResult {
        guard let first = parts.first else { throw ShardError.badSpec("give the partial files to merge") }
        let graph = CircuitGraph(first.graph)
        var sums = [Double](repeating: 0, count: graph.edges.count)
        for p in parts {
            guard p.graph == first.graph, p.method == first.method, p.eapMetric == first.eapMetric, p.scores.count == sums.count else {
                throw ShardError.unsupported("circuit partials of different graphs or methods cannot be merged")
            }
            for i in sums.indices { sums[i] += p.scores[i] }
        }
        let o = CircuitOptions(method: first.method, igSteps: first.igSteps, topN: first.topN, threshold: first.threshold, eapMetric: first.eapMetric)
        let scores = sums.map(Float.init)
        return graph.result(scores: scores, kept: circuit(scores, options: o), method: o.method.rawValue, metric: o.eapMetric.rawValue,
                            pairs: first.pairs, notes: graphNotes(graph) + [attributionNote(o)], evaluation: nil)
    }
}
