import Mechanic

extension PatchingRun {
    /// Per pair, the first position at which patching `site` writes a value different from the
    /// target run's (the query position for patterns), or nil when it writes none: positions
    /// before it — at every layer — are those of the target run, and a patch that changes
    /// nothing leaves the target run as it is. Clean and corrupted prompts usually share a
    /// prefix, so denoising patches there are no-ops and head patches start at the first
    /// difference.
    package func patchStarts(_ site: PatchSite, isPattern: Bool) throws -> [Int?] {
        let target = try targetActivation(site.hook)   // [pairs, full row shape...]
        let source = try sourceActivation(site.hook)   // [pairs or 1, ...] or nil (zeros)
        let rowShape = Array(target.shape.dropFirst())
        let per = rowShape.reduce(1, *), P = positions
        let inner = per / max(P, 1)
        let ranges = try site.selection.ranges(shape: rowShape)
        let from = site.selection.suffixStart
        return target.data.withUnsafeBufferPointer { tp in
            (0..<pairs.count).map { n -> Int? in
                let t = n * per
                let s = (source?.shape.first == 1 ? 0 : n) * per
                var first: Int?
                for rg in ranges {
                    for i in rg {
                        let position = isPattern ? (i / P) % P : i / inner
                        guard position < (first ?? P), position >= from else { continue }
                        if (source?.data[s + i] ?? 0) != tp[t + i] { first = position }
                    }
                }
                return first
            }
        }
    }
}
