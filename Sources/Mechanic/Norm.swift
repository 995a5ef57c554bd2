import MechanicTensor

/// TransformerLens's LayerNorm / LayerNormPre / RMSNorm / RMSNormPre with their two hooks.
/// `hook_scale` is `[..., 1]`; an edited scale is the one used to normalise (so a frozen scale
/// from another run is honoured). For RMSNorm `hook_normalized` is `x / scale` before the weight,
/// for LayerNorm it is after the weight and bias — both as TransformerLens.
func applyNorm(_ x: Tensor, _ kind: ModelConfig.Normalization, weight: Tensor?, bias: Tensor?, eps: Float,
               scaleName: String, normalizedName: String, layer: Int?, hooks: HookRunner) throws -> Tensor {
    if kind == .none { return x }
    let d = x.shape.last ?? 1
    let rows = x.count / d
    let center = kind == .layerNorm || kind == .layerNormPre
    if !hooks.wants(scaleName) && !hooks.wants(normalizedName) {
        // The affine part as below: LayerNorm's weight and bias (both or neither), RMSNorm's weight.
        let affine: (Tensor?, Tensor?) = kind == .layerNorm ? (bias == nil ? (nil, nil) : (weight, bias))
                                       : kind == .rmsNorm ? (weight, nil) : (nil, nil)
        return normalizeRows(x, center: center, weight: affine.0, bias: affine.1, eps: eps)
    }
    var centered = x
    var scale = Tensor(zeros: Array(x.shape.dropLast()) + [1])  // [..., 1]
    centered.data.withUnsafeMutableBufferPointer { c in
        scale.data.withUnsafeMutableBufferPointer { s in
            Parallel.chunks(rows, grain: max(1, 16384 / d)) { range in
            for r in range {
                let row = r * d
                if center {
                    var mean: Float = 0
                    for j in 0..<d { mean += c[row + j] }
                    mean /= Float(d)
                    for j in 0..<d { c[row + j] -= mean }
                }
                var ss: Float = 0
                for j in 0..<d { ss += c[row + j] * c[row + j] }
                s[r] = (ss / Float(d) + eps).squareRoot()
            }
            }
        }
    }
    try hooks.fire(scaleName, layer: layer, &scale)
    let applyAffineBeforeHook = kind == .layerNorm
    centered.data.withUnsafeMutableBufferPointer { c in
        scale.data.withUnsafeBufferPointer { s in
            Parallel.chunks(rows, grain: max(1, 16384 / d)) { range in
            for r in range {
                let inv = 1 / s[r]
                for j in 0..<d { c[r * d + j] *= inv }
                if applyAffineBeforeHook, let weight, let bias {
                    for j in 0..<d { c[r * d + j] = c[r * d + j] * weight.data[j] + bias.data[j] }
                }
            }
            }
        }
    }
    try hooks.fire(normalizedName, layer: layer, &centered)
    if kind == .rmsNorm, let weight {
        centered.data.withUnsafeMutableBufferPointer { c in
            for r in 0..<rows { for j in 0..<d { c[r * d + j] *= weight.data[j] } }
        }
    }
    return centered
}

/// `applyNorm` without hooks in one pass per row (each row is read into cache once and written
/// once, on all cores), with the same arithmetic in the same order as the hooked path — so the
/// same values: centre, `scale = √(mean(x²) + eps)`, `x · (1 / scale)`, then `· w + b`.
private func normalizeRows(_ x: Tensor, center: Bool, weight: Tensor?, bias: Tensor?, eps: Float) -> Tensor {
    let d = x.shape.last ?? 1
    let rows = x.count / max(d, 1)
    let w = weight?.data, b = bias?.data
    return Tensor(shape: x.shape) { out in
        guard let o = out.baseAddress else { return }
        let op = UncheckedPointer(o)
        x.data.withUnsafeBufferPointer { xp in
            guard let xb = xp.baseAddress else { return }
            let xc = ConstPointer(xb)
            Parallel.chunks(rows, grain: max(1, 16384 / d)) { range in
                for r in range {
                    let src = xc.raw + r * d, dst = op.raw + r * d
                    var mean: Float = 0
                    if center {
                        for j in 0..<d { mean += src[j] }
                        mean /= Float(d)
                    }
                    var ss: Float = 0
                    for j in 0..<d {
                        let c = center ? src[j] - mean : src[j]
                        dst[j] = c
                        ss += c * c
                    }
                    let inv = 1 / (ss / Float(d) + eps).squareRoot()
                    for j in 0..<d { dst[j] *= inv }
                    if let w, let b {
                        for j in 0..<d { dst[j] = dst[j] * w[j] + b[j] }
                    } else if let w {
                        for j in 0..<d { dst[j] *= w[j] }
                    }
                }
            }
        }
    }
}

/// A norm of kind `kind` over the last axis with statistics computed from `x` itself, no hooks
/// (TransformerLens's `LayerNorm`/`LayerNormPre`/`RMSNorm`/`RMSNormPre` modules called directly,
/// e.g. `model.ln_final(x)` in a logit lens). The same code as the forward's norms.
public func normalize(_ x: Tensor, _ kind: ModelConfig.Normalization, weight: Tensor?, bias: Tensor?, eps: Float) -> Tensor {
    let silent = HookRunner(hooks: [], cacheNames: [])
    return (try? applyNorm(x, kind, weight: weight, bias: bias, eps: eps, scaleName: "", normalizedName: "",
                           layer: nil, hooks: silent)) ?? x  // no hooks run, so nothing can throw
}
