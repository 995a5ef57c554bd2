/// Rankings of patching effects: which components moved the metric most.
public enum EffectRanking {
    /// The entries of `values` (one row of a patching grid, e.g. every neuron of a layer) ordered
    /// by how far they move the metric from `base` (the unpatched run's value), largest first;
    /// at most `count`, with their indices in the row.
    public static func largestChanges(_ values: [Float], from base: Double, count: Int) -> [(index: Int, value: Float)] {
        let ranked = values.enumerated().map { (index: $0.offset, value: $0.element) }
            .sorted { abs(Double($0.value) - base) > abs(Double($1.value) - base) }
        return Array(ranked.prefix(count))
    }
}
