import Mechanic

extension PatchingResult {
    /// The `mechanic patch --json` object: `act`, `shape`, `values` (nested arrays in
    /// TransformerLens's axis order; a number for a rank-0 result), `clean_metric`,
    /// `corrupt_metric`, plus `axes`, `metric`, `clean_logit_diff`, `corrupt_logit_diff`.
    public func jsonObject() throws -> [String: Any] {
        if let bad = values.data.first(where: { !$0.isFinite }) {
            throw MechanicError.invalidArgument("the \(act) result holds a non-finite value (\(bad)); JSON cannot carry it")
        }
        return [
            "act": act,
            "shape": shape,
            "axes": axes,
            "values": Self.nested(values),
            "metric": metric.rawValue,
            "clean_metric": cleanMetric,
            "corrupt_metric": corruptMetric,
            "clean_logit_diff": cleanLogitDiff,
            "corrupt_logit_diff": corruptLogitDiff,
        ]
    }

    /// A tensor as nested arrays of Doubles (a single number for rank 0).
    public static func nested(_ t: Tensor) -> Any {
        func build(_ axis: Int, _ offset: Int) -> Any {
            if axis == t.shape.count { return Double(t.data[offset]) }
            let stride = t.shape[(axis + 1)...].reduce(1, *)
            return (0..<t.shape[axis]).map { build(axis + 1, offset + $0 * stride) }
        }
        return build(0, 0)
    }
}
