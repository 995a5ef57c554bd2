import Mechanic

/// A few draws from SplitMix64 that do not depend on the standard library's sampling algorithms,
/// so the same seed gives the same tokens on every platform and Swift version.
struct PortableRandom {
    var rng: SplitMix64
    init(seed: UInt64) { rng = SplitMix64(seed: seed) }

    /// Uniform in `0..<n` (Lemire's multiply-shift with rejection); callers ensure `n > 0` (0 otherwise).
    mutating func below(_ n: Int) -> Int {
        guard n > 0 else { return 0 }
        let bound = UInt64(n)
        let threshold = (0 &- bound) % bound
        while true {
            let (high, low) = rng.next().multipliedFullWidth(by: bound)
            if low >= threshold { return Int(high) }
        }
    }
}
