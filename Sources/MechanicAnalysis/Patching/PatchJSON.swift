import Foundation
import Mechanic

/// A tensor as nested JSON arrays of numbers in its axis order (a single number for rank 0).
public indirect enum NestedNumbers: Encodable, Sendable, Equatable {
    case number(Double)
    case array([NestedNumbers])

    public init(_ t: Tensor) {
        // offset: the flat index of the first element of the sub-tensor at `axis`.
        func build(_ axis: Int, _ offset: Int) -> NestedNumbers {
            if axis == t.shape.count { return .number(Double(t.data[offset])) }
            let stride = t.shape[(axis + 1)...].reduce(1, *)
            return .array((0..<t.shape[axis]).map { build(axis + 1, offset + $0 * stride) })
        }
        self = build(0, 0)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case let .number(x): try c.encode(x)
        case let .array(xs): try c.encode(xs)
        }
    }
}

/// `mechanic patch --json` (activation and path patching): the result with its inputs' summary.
/// Keys that mean nothing for a run are left out (no corrupted run under zero/mean ablation; no
/// logit differences without a wrong token).
public struct PatchResultJSON: Encodable, Sendable {
    public var act: String
    public var shape: [Int]
    public var axes: [String]
    public var values: NestedNumbers
    public var metric: String
    public var cleanMetric: Double
    public var corruptMetric: Double?
    public var cleanLogitDiff: Double?
    public var corruptLogitDiff: Double?
    /// `patch`, `path`, or the ablation (`zero`, `mean`, `resample`).
    public var mode: String
    public var pairs: Int
    public var senders: [String]?
    public var receivers: [String]?

    enum CodingKeys: String, CodingKey {
        case act, shape, axes, values, metric, mode, pairs, senders, receivers
        case cleanMetric = "clean_metric", corruptMetric = "corrupt_metric"
        case cleanLogitDiff = "clean_logit_diff", corruptLogitDiff = "corrupt_logit_diff"
    }

    /// - Parameters: `corruptedRun`: whether a corrupted run exists (false under zero/mean
    ///   ablation); `logitDiffs`: whether the logit differences mean anything (a wrong token given).
    public init(_ r: PatchingResult, mode: String, pairs: Int, corruptedRun: Bool, logitDiffs: Bool,
                senders: [String]? = nil, receivers: [String]? = nil) throws {
        if let bad = r.values.data.first(where: { !$0.isFinite }) {
            throw MechanicError.invalidArgument("the \(r.act) result holds a non-finite value (\(bad)); JSON cannot carry it")
        }
        (act, shape, axes, values, metric) = (r.act, r.shape, r.axes, NestedNumbers(r.values), r.metric.rawValue)
        cleanMetric = r.cleanMetric
        corruptMetric = corruptedRun ? r.corruptMetric : nil
        cleanLogitDiff = logitDiffs ? r.cleanLogitDiff : nil
        corruptLogitDiff = logitDiffs && corruptedRun ? r.corruptLogitDiff : nil
        (self.mode, self.pairs, self.senders, self.receivers) = (mode, pairs, senders, receivers)
    }
}

/// `mechanic patch --attribution … --json`: every estimate, the exact checks and their correlation.
public struct AttributionPatchJSON: Encodable, Sendable {
    public struct Check: Encodable, Sendable {
        public var kind: String
        public var index: [Int]
        public var hook: String
        public var estimate: Double
        public var exact: Double
    }
    public var act: String
    public var axes: [String]
    public var shape: [Int]
    public var method: String
    public var metric: String
    public var estimates: NestedNumbers
    public var targetMetric: Double
    public var cleanMetric: Double
    public var corruptMetric: Double
    public var cleanLogitDiff: Double
    public var corruptLogitDiff: Double
    /// Pearson r of the checks' estimates and exact changes; `null` when undefined.
    public var exactCorrelation: Double?
    public var checks: [Check]
    public var mode: String
    public var pairs: Int

    enum CodingKeys: String, CodingKey {
        case act, axes, shape, method, metric, estimates, checks, mode, pairs
        case targetMetric = "target_metric", cleanMetric = "clean_metric", corruptMetric = "corrupt_metric"
        case cleanLogitDiff = "clean_logit_diff", corruptLogitDiff = "corrupt_logit_diff", exactCorrelation = "exact_correlation"
    }

    public init(_ r: AttributionPatchingResult, mode: String, pairs: Int) throws {
        if let bad = r.estimates.data.first(where: { !$0.isFinite }) {
            throw MechanicError.invalidArgument("the \(r.act) attribution holds a non-finite estimate (\(bad)); JSON cannot carry it")
        }
        (act, axes, shape, method, metric) = (r.act, r.axes, r.estimates.shape, r.method.rawValue, r.metric.rawValue)
        estimates = NestedNumbers(r.estimates)
        (targetMetric, cleanMetric, corruptMetric) = (r.targetMetric, r.cleanMetric, r.corruptMetric)
        (cleanLogitDiff, corruptLogitDiff, exactCorrelation) = (r.cleanLogitDiff, r.corruptLogitDiff, r.exactCorrelation)
        checks = r.checks.map { Check(kind: $0.kind.rawValue, index: $0.index, hook: $0.site.hook, estimate: $0.estimate, exact: $0.exact) }
        (self.mode, self.pairs) = (mode, pairs)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(act, forKey: .act); try c.encode(axes, forKey: .axes); try c.encode(shape, forKey: .shape)
        try c.encode(method, forKey: .method); try c.encode(metric, forKey: .metric); try c.encode(estimates, forKey: .estimates)
        try c.encode(targetMetric, forKey: .targetMetric); try c.encode(cleanMetric, forKey: .cleanMetric)
        try c.encode(corruptMetric, forKey: .corruptMetric); try c.encode(cleanLogitDiff, forKey: .cleanLogitDiff)
        try c.encode(corruptLogitDiff, forKey: .corruptLogitDiff)
        try c.encode(exactCorrelation, forKey: .exactCorrelation)   // null when undefined, as before
        try c.encode(checks, forKey: .checks); try c.encode(mode, forKey: .mode); try c.encode(pairs, forKey: .pairs)
    }
}

extension PathReceiver {
    /// `L10H7:q`, `L10H3:k` or `logits` (one receiver of `patch --path-receivers`).
    public init(parsing text: String) throws {
        let s = text.trimmingCharacters(in: .whitespaces)
        if s.lowercased() == "logits" { self = .logits; return }
        let parts = s.split(separator: ":")
        guard parts.count == 2, let input = PathReceiver.Input(rawValue: parts[1].lowercased()) else {
            throw MechanicError.invalidArgument("'\(s)' is not a receiver; write L<layer>H<head>:q|k|v or logits")
        }
        self = .head(try HeadIndex(parsing: String(parts[0])), input)
    }

    /// A comma-separated list: `L10H7:q,L10H3:k` or `logits`.
    public static func parseList(_ text: String) throws -> [PathReceiver] {
        try text.split(separator: ",").map { try PathReceiver(parsing: String($0)) }
    }
}
