import Foundation
import Mechanic

/// Which circuit-discovery method scores the edges.
public enum CircuitMethod: String, CaseIterable, Sendable, Codable {
    /// Edge attribution patching: one forward/backward per batch of pairs.
    case eap
    /// EAP with integrated gradients over the input embeddings (EAP-IG-inputs).
    case eapIG = "eap-ig"
    /// Exact ACDC: one patched run per edge.
    case acdc
}

/// What `mechanic circuit` runs: a method, how the circuit is chosen, and whether to evaluate it.
public struct CircuitOptions: Sendable {
    public var method: CircuitMethod = .eap
    public var igSteps = 5
    /// EAP/EAP-IG: the circuit is the `topN` edges by |score| (default when neither is given: 50)…
    public var topN: Int?
    /// …or the edges with |score| ≥ threshold. ACDC: its removal threshold τ (default 0.01).
    public var threshold: Double?
    /// ACDC's metric: `.kl` (default) or `.logitDiff`.
    public var acdcMetric: PatchingMetric = .kl
    /// EAP/EAP-IG's metric: `.logitDiff` (default), `.prob` or `.loss` (see `EAPMetric`).
    public var eapMetric: PatchingMetric = .logitDiff
    /// Compute faithfulness and MIB's CPR/CMD.
    public var evaluate = false

    public init(method: CircuitMethod = .eap, igSteps: Int = 5, topN: Int? = nil, threshold: Double? = nil,
                acdcMetric: PatchingMetric = .kl, eapMetric: PatchingMetric = .logitDiff, evaluate: Bool = false) {
        self.eapMetric = eapMetric
        self.method = method
        self.igSteps = igSteps
        self.topN = topN
        self.threshold = threshold
        self.acdcMetric = acdcMetric
        self.evaluate = evaluate
    }
}

extension CircuitOptions {
    func validate() throws {
        if let n = topN, n < 0 { throw MechanicError.invalidArgument("--top-n \(n): give 0 or more edges") }
        if method == .eapIG, igSteps < 1 { throw MechanicError.invalidArgument("--ig-steps \(igSteps): give at least 1 step") }
        if let t = threshold, !t.isFinite { throw MechanicError.invalidArgument("--threshold \(t) is not a finite number") }
        if method != .acdc { try EAPMetric.check(eapMetric) }
    }
}

/// Automatic circuit discovery on MIB's edge graph (`CircuitGraph`): EAP, EAP-IG and exact
/// ACDC over prompt pairs, with exact faithfulness evaluation.
public enum CircuitDiscovery {
    public static func run(model: HookedTransformer, pairs: [PatchingPair], options o: CircuitOptions,
                           progress: WorkProgress? = nil) throws -> CircuitResult {
        try o.validate()
        let run = try CircuitRun(model: model, pairs: pairs)
        let g = run.graph
        var notes = graphNotes(g)
        let scores: [Float], kept: [Bool], metric: String
        switch o.method {
        case .eap, .eapIG:
            scores = try run.edgeAttribution(igSteps: o.method == .eapIG ? o.igSteps : nil, metric: o.eapMetric, progress: progress)
            (kept, metric) = (circuit(scores, options: o), o.eapMetric.rawValue)
            notes.append(attributionNote(o))
        case .acdc:
            let out = try run.acdc(threshold: o.threshold ?? 0.01, metric: o.acdcMetric, progress: progress)
            scores = out.effects
            kept = out.kept
            metric = o.acdcMetric.rawValue
            notes.append("score = change of the loss (\(o.acdcMetric == .kl ? "KL(clean ‖ patched)" : "−logit difference")) when the edge was patched; edges changing it by less than \(o.threshold ?? 0.01) removed; \(out.tests) edge tests, \(out.skipped) of them without a run (the receiver's node no longer reached anything: effect 0)")
        }
        let evaluation = o.evaluate ? try run.evaluate(circuit: kept, scores: scores) : nil
        return g.result(scores: scores, kept: kept, method: o.method.rawValue, metric: metric, pairs: pairs.count,
                        notes: notes, evaluation: evaluation)
    }

    /// EAP/EAP-IG's circuit: the edges with |score| ≥ `threshold` when only it is given, else the
    /// `topN` (default 50) edges with the largest |score| — never an edge scored exactly 0 (it
    /// carries nothing the method can see).
    static func circuit(_ scores: [Float], options o: CircuitOptions) -> [Bool] {
        if let t = o.threshold, o.topN == nil { return scores.map { abs(Double($0)) >= t } }
        return zip(CircuitRun.top(scores, count: o.topN ?? 50), scores).map { $0 && $1 != 0 }
    }

    static func metricName(_ m: PatchingMetric) -> String {
        switch m {
        case .prob: return "p(answer)"
        case .loss: return "−log p(answer)"
        default: return "logit difference"
        }
    }

    static func graphNotes(_ g: CircuitGraph) -> [String] {
        var notes: [String] = []
        if let note = g.groupedQueryNote { notes.append(note) }
        if g.parallelAttnMLP { notes.append("parallel attention and MLP: the MLP of layer L does not read layer L's heads") }
        return notes
    }

    static func attributionNote(_ o: CircuitOptions) -> String {
        "score = Σ over pairs and positions of (u_corrupt − u_clean) · ∂(mean \(Self.metricName(o.eapMetric)))/∂(v's input)"
            + (o.method == .eapIG ? ", gradients averaged over \(o.igSteps) input interpolations" : "")
    }
}
