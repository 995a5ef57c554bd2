import Foundation
import Mechanic

/// Exact runs of circuits for library users (and `mechanic bench circuit`): prompt pairs
/// prepared once (clean and corrupted node outputs, clean residual streams), then any set of
/// edges patched to corrupted values (`CircuitRun.patchedLogits`).
public final class CircuitPatcher {
    let run: CircuitRun
    public var graph: CircuitGraph { run.graph }

    public init(model: HookedTransformer, pairs: [PatchingPair]) throws {
        run = try CircuitRun(model: model, pairs: pairs)
    }

    /// The metric (mean over pairs at the final position) with the edges flagged in `removed`
    /// (graph order) patched to their corrupted values.
    public func metric(removed: [Bool], _ metric: PatchingMetric = .logitDiff) throws -> Double {
        try run.context(metric).mean(try run.patchedLogits(removed: removed), dVocab: run.model.config.dVocab)
    }

    /// Exact ACDC (see `CircuitRun.acdc`); `progress` counts edges visited and can cancel.
    public func acdc(threshold: Double, metric: PatchingMetric = .kl, progress: WorkProgress? = nil) throws -> ACDCOutcome {
        try run.acdc(threshold: threshold, metric: metric, progress: progress)
    }

    /// EAP (or, with `igSteps`, EAP-IG) scores in graph order.
    public func edgeAttribution(igSteps: Int? = nil) throws -> [Float] { try run.edgeAttribution(igSteps: igSteps) }
}
