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
        let result = try Interruptible.run(unit: "patches", quiet: quiet, progress: progress) { progress -> AttributionPatchingResult in
            let sweep = try PatchingSweep(model: m, pairs: pairs, metric: metric, mode: mode,
                                          pairBatchSize: pairBatch)
            sweep.progress = progress
            return try sweep.attribution(kind, method: method, neuronPositions: positions, topK: exactAll ? .max : topK,
                                         engine: engine)
        }
        let report = AttributionPatchingReport(result: result, cleanTokens: pairs.first.map { m.pieceStrings($0.clean) },
                                               corruptTokens: pairs.first.map { m.pieceStrings($0.corrupt) },
                                               mode: mode.description, pairs: pairs.count)
        try self.report.write(title: "Attribution patching: \(result.act)",
                              meta: reportMeta(m, processed: !model.noProcessing) + reportInputs(pairs, model: m, mode: mode)
                                  + [("attribution", method.rawValue)], [report])
        let out = CommandResult(try AttributionPatchJSON(result, mode: mode == .denoise ? "patch" : (ablate?.rawValue ?? ""), pairs: pairs.count))
        if json { return out }
        print("attribution patching (\(method.rawValue)): the metric each patch is estimated to give; unpatched run \(String(format: "%.4f", result.targetMetric))")
        printTable(report.asPatching, tokens: Self.pieces(m, pairs[0].clean), pairs: pairs.count, mode: mode)
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
