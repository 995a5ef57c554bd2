import Foundation
import Mechanic
import MechanicAnalysis

/// `POST /api/circuit` (and `/api/jobs/circuit`): `mechanic circuit … --json` on the server's
/// model. The pairs and options are built as `CircuitCommand.run()` builds them; the result is
/// the same `CircuitResult` its `--json` prints (`ResultJSON`, keys as declared).
extension CircuitCommand: ModelCommand {
    var jsonOutput: Bool { json }

    func result(model m: HookedTransformer, progress: WorkProgress?) throws -> CommandResult {
        let pairs: [PatchingPair]
        if let dataset {
            let bos: Bool? = noBos ? false : nil
            pairs = try PatchingDataset.load(URL(fileURLWithPath: dataset), tokenize: { try m.toTokens($0, prependBOS: bos) },
                                             singleToken: { try m.toSingleToken($0) })
        } else {
            pairs = [PatchingPair(clean: try parseTokenList(cleanTokens ?? "", option: "--clean-tokens"),
                                  corrupt: try parseTokenList(corruptTokens ?? "", option: "--corrupt-tokens"),
                                  answer: answerId ?? 0, wrong: wrongId ?? 0)]
        }
        let options = CircuitOptions(method: method, igSteps: igSteps, topN: topN, threshold: threshold, acdcMetric: acdcMetric, evaluate: evaluate)
        let result = try Interruptible.run(unit: method == .acdc ? "edge tests" : "passes", quiet: quiet, progress: progress) { p in
            try CircuitDiscovery.run(model: m, pairs: pairs, options: options, progress: p)
        }
        return CommandResult(result, report: result)
    }
}
