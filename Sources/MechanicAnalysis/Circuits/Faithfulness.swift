import Foundation
import Mechanic

/// One point of the faithfulness curve: the circuit of the top `percent`% of edges by |score|.
public struct FaithfulnessPoint: Codable, Sendable, Equatable {
    public var percent: Double
    public var edges: Int
    public var faithfulness: Double
}

/// Exact faithfulness of circuits, metric = logit difference at the final position (mean over
/// pairs): `f(C) = (m(C) − m(∅)) / (m(N) − m(∅))`, where `m(C)` patches every edge outside C to
/// its corrupted value, `m(N)` is the clean run and `m(∅)` the run with every edge patched.
/// MIB's CPR is the area under f over the circuits of the top 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50
/// and 100% of edges (x = fraction of edges, trapezoids); CMD the area under |1 − f|.
public struct CircuitEvaluation: Codable, Sendable, Equatable {
    /// Faithfulness of the reported circuit (the edges `in_graph`).
    public var faithfulness: Double
    public var circuitEdges: Int
    public var circuitMetric: Double
    public var cleanMetric: Double
    public var emptyMetric: Double
    public var curve: [FaithfulnessPoint]
    public var cpr: Double
    public var cmd: Double

    enum CodingKeys: String, CodingKey {
        case faithfulness, curve, cpr, cmd
        case circuitEdges = "circuit_edges", circuitMetric = "circuit_metric", cleanMetric = "clean_metric", emptyMetric = "empty_metric"
    }

    public static let percents: [Double] = [0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100]
}

extension CircuitRun {
    /// Mean logit difference with the edges outside `kept` patched.
    func logitDiff(kept: [Bool]) throws -> Double {
        let ctx = try context(.logitDiff)
        return ctx.mean(try patchedLogits(removed: kept.map { !$0 }), dVocab: model.config.dVocab)
    }

    /// The circuit of the `count` edges with the largest |score| (ties: graph order).
    static func top(_ scores: [Float], count: Int) -> [Bool] {
        let ranked = scores.indices.sorted { abs(scores[$0]) > abs(scores[$1]) || (abs(scores[$0]) == abs(scores[$1]) && $0 < $1) }
        var kept = [Bool](repeating: false, count: scores.count)
        for e in ranked.prefix(max(0, count)) { kept[e] = true }
        return kept
    }

    func evaluate(circuit: [Bool], scores: [Float], progress: WorkProgress? = nil) throws -> CircuitEvaluation {
        let E = graph.edges.count
        let clean = try context(.logitDiff).mean(cleanLogits, dVocab: model.config.dVocab)
        let empty = try logitDiff(kept: [Bool](repeating: false, count: E))
        func f(_ m: Double) -> Double { (m - empty) / (clean - empty) }
        let circuitMetric = try logitDiff(kept: circuit)
        var curve: [FaithfulnessPoint] = []
        for p in CircuitEvaluation.percents {
            let k = Int((p / 100 * Double(E)).rounded())
            curve.append(FaithfulnessPoint(percent: p, edges: k, faithfulness: f(try logitDiff(kept: Self.top(scores, count: k)))))
            try progress?.advance(1)
        }
        var cpr = 0.0, cmd = 0.0
        for (a, b) in zip(curve, curve.dropFirst()) {
            let dx = (b.percent - a.percent) / 100
            cpr += dx * (a.faithfulness + b.faithfulness) / 2
            cmd += dx * (abs(1 - a.faithfulness) + abs(1 - b.faithfulness)) / 2
        }
        return CircuitEvaluation(faithfulness: f(circuitMetric), circuitEdges: circuit.filter { $0 }.count, circuitMetric: circuitMetric,
                                 cleanMetric: clean, emptyMetric: empty, curve: curve, cpr: cpr, cmd: cmd)
    }
}
