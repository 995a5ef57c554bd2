import Mechanic

/// Ablation hooks for any hook point and any part of its activation (a head through a
/// `hook_z`/`hook_result`/`hook_q`… slice, a neuron of `mlp.hook_post`, a whole layer output):
/// zero, mean over a dataset of prompts (per position), or resample from another prompt.
/// Add the hook to any forward (`runWithHooks`, `forward(options:)`).
///
/// For grids of ablations scored by a metric use `PatchingRun(…, mode: .ablate(…))`, which
/// ablates the clean run with the batched engine (mean = over every clean and corrupted prompt
/// of the run, resample = from the corrupted prompt).
public enum Ablation {
    /// Sets the selected elements of every batch row to zero.
    public static func zero(_ hook: String, _ selection: PatchSelection = .all) -> Hook {
        replacing(hook, selection, with: nil)
    }

    /// Sets the selected elements to their mean over `prompts` (all of one length, which must
    /// be the length of the ablated run), position by position.
    public static func mean(_ hook: String, _ selection: PatchSelection = .all, model: HookedTransformer,
                            prompts: [[Int]]) throws -> Hook {
        guard !prompts.isEmpty else { throw MechanicError.emptyInput("mean ablation needs at least one prompt") }
        let lengths = Set(prompts.map(\.count))
        guard lengths.count == 1 else {
            throw MechanicError.invalidArgument("mean ablation averages position by position, so the prompts must have one length; got \(lengths.sorted())")
        }
        let r = try model.forward(TokenBatch(ids: prompts), options: ForwardOptions(cache: .names([hook]), logits: .none))
        return replacing(hook, selection, with: PatchingRun.meanOverBatch([try r.cache.require(hook)]))
    }

    /// Sets the selected elements to their values on `prompt` (same length as the ablated run).
    public static func resample(_ hook: String, _ selection: PatchSelection = .all, model: HookedTransformer,
                                from prompt: [Int]) throws -> Hook {
        let r = try model.forward(TokenBatch(prompt), options: ForwardOptions(cache: .names([hook]), logits: .none))
        return replacing(hook, selection, with: try r.cache.require(hook))
    }

    /// `values` is `[1, ...]` (broadcast to every row) or nil for zeros.
    static func replacing(_ hook: String, _ selection: PatchSelection, with values: Tensor?) -> Hook {
        Hook(hook) { act, _ in
            let rowShape = Array(act.shape.dropFirst())
            let per = rowShape.reduce(1, *)
            if let values, values.count != per {
                throw MechanicError.invalidArgument("ablating \(hook): the run's activation is \(rowShape) per row but the ablation values are \(Array(values.shape.dropFirst())) (prompts of another length?)")
            }
            let ranges = try selection.ranges(shape: rowShape)
            let batch = act.shape.first ?? 0
            act.data.withUnsafeMutableBufferPointer { a in
                for b in 0..<batch {
                    for rg in ranges { for i in rg { a[b * per + i] = values?.data[i] ?? 0 } }
                }
            }
        }
    }
}
