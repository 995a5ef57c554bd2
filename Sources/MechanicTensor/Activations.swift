import Foundation

/// Element-wise activation functions, named as TransformerLens names them (`act_fn`).
public enum Activation: String, Sendable {
    case gelu            // exact erf GELU
    case geluNew = "gelu_new"  // tanh approximation (GPT-2)
    case geluFast = "gelu_fast"
    case relu
    case silu
    case geluPytorchTanh = "gelu_pytorch_tanh"

    /// Parses a Hugging Face `activation_function` / `hidden_act` value.
    public init?(huggingFace name: String) {
        switch name {
        case "gelu": self = .gelu
        case "gelu_new", "gelu_pytorch_tanh": self = .geluNew
        case "gelu_fast": self = .geluFast
        case "relu": self = .relu
        case "silu", "swish": self = .silu
        default: return nil
        }
    }

    /// `act(x)` of one float: the operations of `apply(SIMD8)` in the same order on one lane, so a
    /// value is the same, bit for bit, whether it was computed alone or 8 at a time.
    @inlinable public func apply(_ x: Float) -> Float {
        switch self {
        case .gelu:
            return 0.5 * x * (1 + erff(x / 2.0.squareRoot().asFloat))
        case .geluNew, .geluPytorchTanh:
            let u = 0.7978845608028654 as Float * (x + 0.044715 * x * x * x)
            return x - x / (SIMDMath.exp(2 * u) + 1)
        case .geluFast:
            return 0.5 * x * (1 + tanhf(x * 0.7978845608 * (1 + 0.044715 * x * x)))
        case .relu:
            return x < 0 ? 0 : x
        case .silu:
            return x / (1 + SIMDMath.exp(-x))
        }
    }

    /// `act(x)` of 8 floats. GELU-tanh and SiLU use the shared vector `exp` (`SIMDMath.exp`);
    /// the erf GELU and `gelu_fast` call libm per lane.
    @inlinable @inline(__always) public func apply(_ x: SIMD8<Float>) -> SIMD8<Float> {
        switch self {
        case .gelu:
            var y = x
            for i in 0..<8 { y[i] = 0.5 * x[i] * (1 + erff(x[i] / 2.0.squareRoot().asFloat)) }
            return y
        case .geluNew, .geluPytorchTanh:
            // 0.5·x·(1 + tanh(u)) = x · (1 − 1/(e^{2u} + 1)): one exp instead of tanh's expm1
            // (the GELU was an eighth of a GPT-2 forward); absolute error ≤ 1e-7·|x|.
            let u = 0.7978845608028654 as Float * (x + 0.044715 * x * x * x)  // sqrt(2/pi)·(…)
            return x - x / (SIMDMath.exp(2 * u) + 1)
        case .geluFast:
            var y = x
            for i in 0..<8 { y[i] = 0.5 * x[i] * (1 + tanhf(x[i] * 0.7978845608 * (1 + 0.044715 * x[i] * x[i]))) }
            return y
        case .relu:
            return x.replacing(with: 0, where: x .< 0)
        case .silu:
            return x / (1 + SIMDMath.exp(-x))
        }
    }

    /// The derivative `d apply(x) / dx` (for gradients through the MLP).
    @inlinable public func derivative(_ x: Float) -> Float {
        switch self {
        case .gelu:
            // Φ(x) + x·φ(x)
            let cdf = 0.5 * (1 + erff(x / 2.0.squareRoot().asFloat))
            return cdf + x * expf(-0.5 * x * x) * 0.3989422804014327
        case .geluNew, .geluPytorchTanh, .geluFast:
            // 0.5·(1 + tanh u) + 0.5·x·(1 − tanh² u)·du/dx, u = √(2/π)·(x + 0.044715·x³)
            let c: Float = 0.7978845608028654
            let t = 1 - 2 / (expf(2 * c * (x + 0.044715 * x * x * x)) + 1)   // tanh, one expf
            return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x)
        case .relu:
            return x > 0 ? 1 : 0
        case .silu:
            let s = 1 / (1 + expf(-x))
            return s + x * s * (1 - s)
        }
    }

    /// Applies the activation in place, 8 floats at a time on all cores.
    public func apply(_ buf: UnsafeMutableBufferPointer<Float>) {
        guard let base = buf.baseAddress else { return }
        let p = UncheckedPointer(base)
        Parallel.chunks(buf.count / 8, grain: 2048) { r in   // r: groups of 8 floats
            for g in r { SIMDMath.store8(apply(SIMDMath.load8(p.raw + 8 * g)), p.raw + 8 * g) }
        }
        let tail = buf.count % 8, t = base + (buf.count - tail)   // the last count % 8 floats
        if tail > 0 { SIMDMath.store(apply(SIMDMath.load(t, count: tail, fill: 0)), t, count: tail) }
    }
}

extension Activation {
    /// `buf[r, j] = act(buf[r, j] + bias[j])` in place, `buf` viewed as `[rows, bias.count]`:
    /// the bias of the product before the activation, added in the activation's pass (one pass
    /// over the hidden activations instead of a bias fill, a read-modify-write and this).
    public func apply(_ buf: UnsafeMutableBufferPointer<Float>, rowBias bias: UnsafeBufferPointer<Float>) {
        guard let base = buf.baseAddress, let b = bias.baseAddress, bias.count > 0 else { return apply(buf) }
        let (p, bp, n) = (UncheckedPointer(base), ConstPointer(b), bias.count)
        let n8 = n / 8 * 8
        Parallel.chunks(buf.count / n, grain: max(1, 16384 / n)) { rows in
            for r in rows {
                let row = p.raw + r * n   // row r of [rows, n]
                for j in stride(from: 0, to: n8, by: 8) {
                    SIMDMath.store8(apply(SIMDMath.load8(row + j) + SIMDMath.load8(bp.raw + j)), row + j)
                }
                if n8 < n {
                    let x = SIMDMath.load(row + n8, count: n - n8, fill: 0) + SIMDMath.load(bp.raw + n8, count: n - n8, fill: 0)
                    SIMDMath.store(apply(x), row + n8, count: n - n8)
                }
            }
        }
    }
}

extension Double {
    @inlinable var asFloat: Float { Float(self) }
}

/// A read-only pointer handed to parallel workers.
public struct ConstPointer: @unchecked Sendable {
    public let raw: UnsafePointer<Float>
    public init(_ raw: UnsafePointer<Float>) { self.raw = raw }
}

/// A pointer handed to parallel workers that write disjoint ranges.
public struct UncheckedPointer: @unchecked Sendable {
    public let raw: UnsafeMutablePointer<Float>
    public init(_ raw: UnsafeMutablePointer<Float>) { self.raw = raw }
}
