import Foundation
import Mechanic

/// One shard's share of a patching sweep (`PatchingSweep(shard:)`): each value is the sum, over
/// the shard's batches, of the batch's mean weighted by its share of *all* pairs, so the values
/// of the N shards add up to the all-pairs mean. The clean/corrupted summary adds up the same
/// way (or, for the normalised metric, is the all-pairs normalisation every shard computed).
public struct PatchingPartial: Codable, Equatable, Sendable {
    public var act: String
    public var axes: [String]
    public var shape: [Int]
    public var metric: PatchingMetric
    /// Pairs in this shard and in the whole run.
    public var pairs: Int
    public var totalPairs: Int
    /// Weighted sums (all-pairs shares) of the clean/corrupted metrics and logit differences.
    public var cleanMetric: Double, corruptMetric: Double, cleanLogitDiff: Double, corruptLogitDiff: Double
    /// True when the summary is the all-pairs normalisation (the same in every shard).
    public var normalized: Bool
    /// The weighted sums (empty for a shard without pairs); kept out of the JSON payload.
    public var sums: [Double] = []

    enum CodingKeys: String, CodingKey {
        case act, axes, shape, metric, pairs, totalPairs, cleanMetric, corruptMetric, cleanLogitDiff, corruptLogitDiff, normalized
    }

    /// The all-pairs result of the shards' partials (in any order; `ShardMerge.check` first).
    public static func merge(_ parts: [PatchingPartial]) throws -> PatchingResult {
        guard let first = parts.first else { throw ShardError.badSpec("no partials to merge") }
        let n = first.shape.reduce(1, *)
        var sums = [Double](repeating: 0, count: n)
        var summary = Summary(metric: first.metric)
        var pairs = 0
        for p in parts {
            guard p.act == first.act, p.axes == first.axes, p.shape == first.shape, p.metric == first.metric,
                  p.totalPairs == first.totalPairs, p.normalized == first.normalized else {
                throw ShardError.unsupported("the partials hold different results (\(first.act) \(first.shape) vs \(p.act) \(p.shape))")
            }
            guard p.sums.isEmpty || p.sums.count == n else {
                throw ShardError.unsupported("a partial of \(p.act) holds \(p.sums.count) values, not \(n)")
            }
            for i in p.sums.indices { sums[i] += p.sums[i] }
            pairs += p.pairs
            if !p.normalized {
                summary.cleanMetric += p.cleanMetric; summary.corruptMetric += p.corruptMetric
                summary.cleanLogitDiff += p.cleanLogitDiff; summary.corruptLogitDiff += p.corruptLogitDiff
            }
        }
        guard pairs == first.totalPairs else {
            throw ShardError.unsupported("the partials hold \(pairs) of \(first.totalPairs) pairs")
        }
        if first.normalized {
            (summary.cleanMetric, summary.corruptMetric, summary.cleanLogitDiff, summary.corruptLogitDiff) =
                (first.cleanMetric, first.corruptMetric, first.cleanLogitDiff, first.corruptLogitDiff)
        }
        return summary.result(first.act, axes: first.axes, shape: first.shape, values: sums)
    }
}

extension PatchingSweep {
    /// Records the shard's partial (when sharded) and returns the result of the values so far.
    func finish(_ summary: Summary, act: String, axes: [String], shape: [Int], values: [Double], normalized: Bool) -> PatchingResult {
        if shard != nil {
            lastPartial = PatchingPartial(act: act, axes: axes, shape: shape, metric: metric, pairs: ownedPairs.count,
                                          totalPairs: pairs.count, cleanMetric: summary.cleanMetric, corruptMetric: summary.corruptMetric,
                                          cleanLogitDiff: summary.cleanLogitDiff, corruptLogitDiff: summary.corruptLogitDiff,
                                          normalized: normalized, sums: values)
        }
        // A shard without pairs contributes nothing: zeros.
        let filled = values.isEmpty ? [Double](repeating: 0, count: shape.reduce(1, *)) : values
        return summary.result(act, axes: axes, shape: shape, values: filled)
    }

    /// Refuses work a shard cannot do alone.
    func requireUnsharded(_ what: String) throws {
        guard let shard else { return }
        throw ShardError.unsupported("\(what) cannot run as shard \(shard): it needs every pair's result before it can go on; run it without --shard")
    }
}
