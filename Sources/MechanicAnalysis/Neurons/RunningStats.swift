/// Mean, spread and extremes of a stream of values (Welford), in constant memory; two of them
/// (e.g. of two shards of a corpus) combine by Chan et al.'s parallel formula.
public struct RunningStats: Codable, Sendable, Equatable {
    public private(set) var count = 0
    public private(set) var mean: Double = 0
    /// Σ (v − mean)² over the values.
    private var m2: Double = 0
    public private(set) var minimum = Double.infinity
    public private(set) var maximum = -Double.infinity
    /// How many values were > 0.
    public private(set) var positive = 0

    public init() {}

    public mutating func add(_ v: Double) {
        guard v.isFinite else { return }
        count += 1
        let d = v - mean
        mean += d / Double(count)
        m2 += d * (v - mean)
        minimum = min(minimum, v)
        maximum = max(maximum, v)
        if v > 0 { positive += 1 }
    }

    /// Adds the values `other` summarises (Chan, Golub & LeVeque 1979): with δ = mean_b − mean_a
    /// and n = n_a + n_b, mean = mean_a + δ·n_b/n and M2 = M2_a + M2_b + δ²·n_a·n_b/n.
    public mutating func combine(_ other: RunningStats) {
        guard other.count > 0 else { return }
        guard count > 0 else { self = other; return }
        let na = Double(count), nb = Double(other.count), n = na + nb
        let delta = other.mean - mean
        mean += delta * nb / n
        m2 += other.m2 + delta * delta * na * nb / n
        count += other.count
        minimum = min(minimum, other.minimum)
        maximum = max(maximum, other.maximum)
        positive += other.positive
    }

    /// Population standard deviation.
    public var standardDeviation: Double { count > 0 ? (m2 / Double(count)).squareRoot() : .nan }
    public var fractionPositive: Double { count > 0 ? Double(positive) / Double(count) : .nan }
}
