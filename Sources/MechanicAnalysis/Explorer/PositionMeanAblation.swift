import Mechanic

extension Ablation {
    /// Sets the selected elements at every position to their mean over every position of
    /// `prompts` (any lengths): TransformerLens's mean-cache ablation averaged over positions as
    /// well as prompts, so it applies to a run of any length. A head through `hook_z` gets the
    /// mean of its `z` over the prompts' tokens. Returns the hook and the number of positions
    /// averaged.
    ///
    /// (`Ablation.mean` averages position by position over prompts of one length; over a single
    /// prompt that is the prompt's own activation, a no-op.)
    public static func positionMean(_ hook: String, _ selection: PatchSelection = .all, model: HookedTransformer,
                                    prompts: [[Int]]) throws -> (hook: Hook, positions: Int) {
        var sum: [Double] = [], positions = 0
        for prompt in prompts where !prompt.isEmpty {
            let r = try model.forward(TokenBatch(prompt), options: ForwardOptions(cache: .names([hook]), logits: .none))
            let act = try r.cache.require(hook)  // [1, pos, ...inner]
            guard act.shape.count >= 3 else {
                throw MechanicError.invalidArgument("mean over positions needs an activation with a position axis; \(hook) is \(act.shape)")
            }
            let n = act.shape[1], inner = act.count / max(n, 1)
            if sum.isEmpty { sum = [Double](repeating: 0, count: inner) }
            for p in 0..<n { for i in 0..<inner { sum[i] += Double(act.data[p * inner + i]) } }  // offset p·inner in [1, pos, inner]
            positions += n
        }
        guard positions > 0 else { throw MechanicError.emptyInput("mean ablation needs at least one token") }
        let mean = sum.map { Float($0 / Double(positions)) }  // [...inner]
        let replacing = Hook(hook) { act, _ in
            let rowShape = Array(act.shape.dropFirst())  // [pos, ...inner]
            let per = rowShape.reduce(1, *), inner = rowShape.dropFirst().reduce(1, *)
            guard inner == mean.count else {
                throw MechanicError.invalidArgument("ablating \(hook): the run's activation is \(rowShape) per row but the mean is over \(mean.count) values per position")
            }
            let ranges = try selection.ranges(shape: rowShape)
            let batch = act.shape.first ?? 0
            act.data.withUnsafeMutableBufferPointer { a in
                for b in 0..<batch {
                    for rg in ranges { for i in rg { a[b * per + i] = mean[i % inner] } }  // flat i = p·inner + j → mean[j]
                }
            }
        }
        return (replacing, positions)
    }
}
