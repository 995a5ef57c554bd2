import Foundation
import Mechanic

/// Box–Muller normals from the core's `SplitMix64` (reproducible random weights for tests).
extension SplitMix64 {
    mutating func uniform() -> Double { Double(next() >> 11) / Double(1 << 53) }
    mutating func normal() -> Float {
        let u = max(uniform(), 1e-300), v = uniform()
        return Float((-2 * log(u)).squareRoot() * cos(2 * Double.pi * v))
    }
}
