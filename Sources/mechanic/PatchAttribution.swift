import ArgumentParser
import Foundation
import Mechanic
import MechanicAnalysis

extension PatchCommand {
    /// `mechanic patch --attribution atp|atp* --act KIND`: every component's estimate from one
    /// forward and one backward (per batch of pairs), then the top components patched exactly.
    func runAttribution(_ m: HookedTransformer, pairs: [PatchingPair], mode: PatchingMode, kind: ActPatchKind,
                        method: AttributionMethod, progress: WorkProgress?) throws -> CommandResult {
        let positions = neuronPositions
        let shard = try sharding.resolved()
        let (result, partial) = try Interruptible.run(unit: "patches", quiet: quiet, progress: progress) { progress -> (AttributionPatchingResult, AttributionPartial?) in
            let sweep = try PatchingSweep(model: m, pairs: pairs, metric: metric, mode: mode,
                                          pairBatchSize: pairBatch, shard: shard)
            sweep.progress = progress
            let result = try sweep.attribution(kind, method: method, neuronPositions: positions, topK: exactAll ? .max : topK,
                                               engine: engine)
            return (result, sweep.lastAttributionPartial)
        }
        let context = PatchRenderContext(
            meta: (reportMeta(m, processed: !model.noProcessing) + reportInputs(pairs, model: m, mode: mode)
                   + [("attribution", method.rawValue)]).map { [$0.key, $0.value] },
            cleanPieces: pairs.first.map { m.pieceStrings($0.clean) }, corruptPieces: pairs.first.map { m.pieceStrings($0.corrupt) },
            tablePieces: Self.pieces(m, pairs[0].clean), pairs: pairs.count, senders: nil, receivers: nil)
        if let shard, let partial {
            return try writePartial(nil, attribution: partial, shard: shard, context: context, model: m, pairs: pairs)
        }
        return try emitAttribution(result, context)
    }

    /// Writes the report, prints the estimates and checks (unless `--json`) and returns the JSON
    /// of an attribution result — of this run, or of shards merged by `mechanic merge`.
    func emitAttribution(_ result: AttributionPatchingResult, _ c: PatchRenderContext) throws -> CommandResult {
        let mode = patchingMode
        let report = AttributionPatchingReport(result: result, cleanTokens: c.cleanPieces, corruptTokens: c.corruptPieces,
                                               mode: mode.description, pairs: c.pairs)
        try self.report.write(title: "Attribution patching: \(result.act)", meta: c.meta.map { (key: $0.first ?? "", value: $0.last ?? "") }, [report])
        let out = CommandResult(try AttributionPatchJSON(result, mode: mode == .denoise ? "patch" : (ablate?.rawValue ?? ""), pairs: c.pairs))
        if json { return out }
        print("attribution patching (\(result.method.rawValue)): the metric each patch is estimated to give; unpatched run \(String(format: "%.4f", result.targetMetric))")
        printTable(report.asPatching, tokens: c.tablePieces, pairs: c.pairs, mode: mode)
        guard !result.checks.isEmpty else { return out }
        let which = result.checks.count >= result.estimates.count ? "every component" : "the \(result.checks.count) largest estimates"
        print("\n\(which), patched exactly (change of \(result.metric.rawValue) from the unpatched run):")
        let labels = result.checks.map { report.label($0) }
        let width = max(9, labels.map(\.count).max() ?? 0)
        print("component".padding(toLength: width, withPad: " ", startingAt: 0) + "   estimate      exact")
        for (c, label) in zip(result.checks, labels) {
            print(label.padding(toLength: width, withPad: " ", startingAt: 0) + String(format: " %10.4f %10.4f", c.estimate, c.exact))
        }
        print("Pearson r (estimate, exact): " + (result.exactCorrelation.map { String(format: "%.4f", $0) } ?? "n/a (fewer than two varying values)"))
        return out
    }
}
