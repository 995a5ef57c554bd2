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

    @inlinable public func apply(_ x: Float) -> Float {
        switch self {
        case .gelu:
            return 0.5 * x * (1 + erff(x / 2.0.squareRoot().asFloat))
        case .geluNew, .geluPytorchTanh:
            // 0.5·x·(1 + tanh(u)) = x · (1 − 1/(e^{2u} + 1)): one expf instead of tanhf's expm1f
            // (the GELU was an eighth of a GPT-2 forward); absolute error ≤ 1e-7·|x|.
            let u = 0.7978845608028654 as Float * (x + 0.044715 * x * x * x)  // sqrt(2/pi)·(…)
            return x - x / (expf(2 * u) + 1)
        case .geluFast:
            return 0.5 * x * (1 + tanhf(x * 0.7978845608 * (1 + 0.044715 * x * x)))
        case .relu:
            return max(x, 0)
        case .silu:
            return x / (1 + expf(-x))
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

    /// Applies the activation in place.
    public func apply(_ buf: UnsafeMutableBufferPointer<Float>) {
        guard let base = buf.baseAddress else { return }
        let p = UncheckedPointer(base)
        Parallel.chunks(buf.count, grain: 16384) { r in
            for i in r { p.raw[i] = apply(p.raw[i]) }
        }
    }
}

extension Activation {
    /// `buf[r, j] = act(buf[r, j] + bias[j])` in place, `buf` viewed as `[rows, bias.count]`:
    /// the bias of the product before the activation, added in the activation's pass (one pass
    /// over the hidden activations instead of a bias fill, a read-modify-write and this).
    public func apply(_ buf: UnsafeMutableBufferPointer<Float>, rowBias bias: UnsafeBufferPointer<Float>) {
        guard let base = buf.baseAddress, let b = bias.baseAddress, bias.count > 0 else { return apply(buf) }
        let (p, bp, n) = (UncheckedPointer(base), ConstPointer(b), bias.count)
        Parallel.chunks(buf.count / n, grain: max(1, 16384 / n)) { rows in
            for r in rows {
                let row = p.raw + r * n
                for j in 0..<n { row[j] = apply(row[j] + bp.raw[j]) }
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
