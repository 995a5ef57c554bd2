import Mechanic

/// A few draws from SplitMix64 that do not depend on the standard library's sampling algorithms,
/// so the same seed gives the same tokens on every platform and Swift version.
struct PortableRandom {
    var rng: SplitMix64
    init(seed: UInt64) { rng = SplitMix64(seed: seed) }

    /// Uniform in `0..<n` (Lemire's multiply-shift with rejection).
    mutating func below(_ n: Int) -> Int {
        precondition(n > 0)
        let bound = UInt64(n)
        let threshold = (0 &- bound) % bound
        while true {
            let (high, low) = rng.next().multipliedFullWidth(by: bound)
            if low >= threshold { return Int(high) }
        }
    }

    /// Fisher–Yates shuffle, drawing from the last index down.
    mutating func shuffle<T>(_ a: inout [T]) {
        guard a.count > 1 else { return }
        for i in stride(from: a.count - 1, to: 0, by: -1) { a.swapAt(i, below(i + 1)) }
    }
}
