import Mechanic

/// The computational graph of the Mechanistic Interpretability Benchmark (MIB): upstream nodes
/// `input` (the embeddings), `a{L}.h{H}` (each head's output, `hook_result`) and `m{L}` (each
/// MLP's output), and receivers — each head's `<q>`, `<k>`, `<v>` input, each MLP's input and
/// `logits` (the final residual stream). Every upstream node feeds every later receiver through
/// the residual stream; each (upstream, receiver) pair is an edge, e.g. `a0.h1->a3.h4<q>`,
/// `m2->a5.h0<v>`, `input->m0`, `a11.h9->logits`.
///
/// Grouped-query models: the `<k>` / `<v>` receivers are the key/value heads (`a{L}.h{g}<k>` is
/// key/value head `g`, read by query heads `g·G ..< (g+1)·G`). Parallel attention + MLP models
/// (Pythia): the MLP of layer L reads the residual stream before layer L, so not layer L's heads.
public struct CircuitGraph: Sendable, Equatable {
    public enum Node: Hashable, Sendable {
        case input
        case head(layer: Int, head: Int)
        case mlp(layer: Int)
        case logits

        public var name: String {
            switch self {
            case .input: return "input"
            case let .head(l, h): return "a\(l).h\(h)"
            case let .mlp(l): return "m\(l)"
            case .logits: return "logits"
            }
        }
    }

    /// Which input of a node an edge enters.
    public enum Port: String, Sendable, Codable { case q, k, v, mlp, logits }

    /// A receiver: a head's q/k/v input (`head` is the key/value head for `k`, `v`), an MLP's input, or the logits.
    public struct Receiver: Hashable, Sendable {
        public let port: Port
        public let layer: Int          // n_layers for the logits
        public let head: Int           // 0 for MLPs and logits
        /// Upstream nodes `0 ..< upstreamCount` (in `CircuitGraph.upstream` order) feed it.
        public let upstreamCount: Int

        public var node: Node {
            switch port {
            case .q, .k, .v: return .head(layer: layer, head: head)
            case .mlp: return .mlp(layer: layer)
            case .logits: return .logits
            }
        }
        public var name: String {
            switch port {
            case .q, .k, .v: return "\(node.name)<\(port.rawValue)>"
            case .mlp, .logits: return node.name
            }
        }
    }

    public struct Edge: Hashable, Sendable {
        /// Index into `upstream`.
        public let upstream: Int
        /// Index into `receivers`.
        public let receiver: Int
    }

    public let nLayers: Int
    public let nHeads: Int
    public let nKeyValueHeads: Int
    public let dModel: Int
    public let parallelAttnMLP: Bool
    public let attnOnly: Bool
    /// Output nodes in topological order: `input`, then per layer its heads and its MLP.
    public let upstream: [Node]
    /// Receivers in topological order: per layer the heads' q, k, v inputs, then the MLP input; last `logits`.
    public let receivers: [Receiver]
    /// Edges grouped by receiver (in receiver order), upstream nodes in topological order.
    public let edges: [Edge]

    /// What decides the graph: a model's shape.
    public struct Shape: Codable, Sendable, Equatable {
        public var nLayers, nHeads, nKeyValueHeads, dModel: Int
        public var parallelAttnMLP, attnOnly: Bool
    }

    public var shape: Shape {
        Shape(nLayers: nLayers, nHeads: nHeads, nKeyValueHeads: nKeyValueHeads, dModel: dModel, parallelAttnMLP: parallelAttnMLP, attnOnly: attnOnly)
    }

    public init(_ c: ModelConfig) {
        self.init(Shape(nLayers: c.nLayers, nHeads: c.nHeads, nKeyValueHeads: c.nKeyValueHeads, dModel: c.dModel,
                        parallelAttnMLP: c.parallelAttnMLP, attnOnly: c.attnOnly))
    }

    public init(_ c: Shape) {
        nLayers = c.nLayers
        nHeads = c.nHeads
        nKeyValueHeads = c.nKeyValueHeads
        dModel = c.dModel
        parallelAttnMLP = c.parallelAttnMLP
        attnOnly = c.attnOnly
        var up: [Node] = [.input]
        var rec: [Receiver] = []
        for l in 0..<c.nLayers {
            let before = up.count
            for h in 0..<c.nHeads { rec.append(Receiver(port: .q, layer: l, head: h, upstreamCount: before)) }
            for port in [Port.k, .v] {
                for g in 0..<c.nKeyValueHeads { rec.append(Receiver(port: port, layer: l, head: g, upstreamCount: before)) }
            }
            for h in 0..<c.nHeads { up.append(.head(layer: l, head: h)) }
            if !c.attnOnly {
                rec.append(Receiver(port: .mlp, layer: l, head: 0, upstreamCount: c.parallelAttnMLP ? before : up.count))
                up.append(.mlp(layer: l))
            }
        }
        rec.append(Receiver(port: .logits, layer: c.nLayers, head: 0, upstreamCount: up.count))
        upstream = up
        receivers = rec
        edges = rec.indices.flatMap { r in (0..<rec[r].upstreamCount).map { Edge(upstream: $0, receiver: r) } }
    }

    public func name(_ e: Edge) -> String { "\(upstream[e.upstream].name)->\(receivers[e.receiver].name)" }

    /// Every node of the graph (upstream nodes, then `logits`).
    public var nodes: [Node] { upstream + [.logits] }

    /// The first edge index of each receiver (edges are grouped by receiver), plus the total.
    public var receiverOffsets: [Int] {
        var o = [0]
        for r in receivers { o.append((o.last ?? 0) + r.upstreamCount) }
        return o
    }

    /// The layer whose block first reads a node's output: 0 for `input`, L + 1 for a head of layer
    /// L (L for the MLP of a sequential model); used to know which outputs a patched run recomputes.
    public func layer(of node: Node) -> Int {
        switch node {
        case .input: return -1
        case let .head(l, _), let .mlp(l): return l
        case .logits: return nLayers
        }
    }

    /// A note on grouped-query receivers for reports, nil for ordinary multi-head attention.
    public var groupedQueryNote: String? {
        guard nKeyValueHeads != nHeads else { return nil }
        let g = nHeads / max(nKeyValueHeads, 1)
        return "grouped-query attention: <k>/<v> edges enter key/value heads — a{L}.h{g}<k> is key/value head g, read by query heads g·\(g) ..< (g+1)·\(g)"
    }
}
