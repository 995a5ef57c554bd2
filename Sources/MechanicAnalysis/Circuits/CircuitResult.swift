import Foundation
import Mechanic

/// A circuit in MIB's JSON format — `{"cfg": {n_layers, n_heads, parallel_attn_mlp, d_model},
/// "nodes": {name: {"in_graph"}}, "edges": {name: {"score", "in_graph"}}}` — readable by MIB's
/// tools, plus Mechanic's own keys (method, metric, notes, evaluation), which MIB ignores.
public struct CircuitResult: Codable, Sendable, Equatable {
    public struct Config: Codable, Sendable, Equatable {
        public var nLayers: Int
        public var nHeads: Int
        public var parallelAttnMLP: Bool
        public var dModel: Int
        enum CodingKeys: String, CodingKey {
            case nLayers = "n_layers", nHeads = "n_heads", parallelAttnMLP = "parallel_attn_mlp", dModel = "d_model"
        }
    }
    public struct NodeEntry: Codable, Sendable, Equatable {
        public var inGraph: Bool
        enum CodingKeys: String, CodingKey { case inGraph = "in_graph" }
    }
    public struct EdgeEntry: Codable, Sendable, Equatable {
        public var score: Float
        public var inGraph: Bool
        enum CodingKeys: String, CodingKey { case score, inGraph = "in_graph" }
    }

    public var cfg: Config
    public var nodes: [String: NodeEntry]
    public var edges: [String: EdgeEntry]
    /// `eap`, `eap-ig` or `acdc`.
    public var method: String
    /// What the scores are: EAP's logit-difference attribution, or ACDC's loss change when the edge was tested.
    public var metric: String
    public var pairs: Int
    public var notes: [String]
    public var evaluation: CircuitEvaluation?
    /// Edge names in graph order (topological by receiver), so that readers need not sort.
    public var edgeOrder: [String]

    enum CodingKeys: String, CodingKey {
        case cfg, nodes, edges, method, metric, pairs, notes, evaluation
        case edgeOrder = "edge_order"
    }

    /// Edges by decreasing |score| (ties in graph order).
    public var rankedEdges: [(name: String, entry: EdgeEntry)] {
        let indexed = edgeOrder.enumerated().compactMap { i, n in edges[n].map { (i, n, $0) } }
        return indexed.sorted { abs($0.2.score) > abs($1.2.score) || (abs($0.2.score) == abs($1.2.score) && $0.0 < $1.0) }
            .map { ($0.1, $0.2) }
    }
}

extension CircuitGraph {
    /// The MIB result for per-edge `scores` and circuit membership `kept` (graph order). A node is
    /// in the graph when an edge of the circuit enters or leaves it.
    func result(scores: [Float], kept: [Bool], method: String, metric: String, pairs: Int, notes: [String],
                evaluation: CircuitEvaluation?) -> CircuitResult {
        var nodes: [String: CircuitResult.NodeEntry] = [:]
        for n in self.nodes { nodes[n.name] = CircuitResult.NodeEntry(inGraph: false) }
        var edges: [String: CircuitResult.EdgeEntry] = [:]
        var order: [String] = []
        for (i, e) in self.edges.enumerated() {
            let name = self.name(e)
            order.append(name)
            edges[name] = CircuitResult.EdgeEntry(score: scores[i], inGraph: kept[i])
            if kept[i] {
                nodes[upstream[e.upstream].name] = CircuitResult.NodeEntry(inGraph: true)
                nodes[receivers[e.receiver].node.name] = CircuitResult.NodeEntry(inGraph: true)
            }
        }
        return CircuitResult(cfg: CircuitResult.Config(nLayers: nLayers, nHeads: nHeads, parallelAttnMLP: parallelAttnMLP, dModel: dModel),
                             nodes: nodes, edges: edges, method: method, metric: metric, pairs: pairs, notes: notes,
                             evaluation: evaluation, edgeOrder: order)
    }
}
