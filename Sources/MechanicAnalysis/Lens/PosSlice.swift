import Mechanic

/// TransformerLens's `utils.Slice` over one axis: nil/identity, an integer (which drops the axis),
/// a Python-style range `start:stop:step`, or an explicit list of indices. Negative integers count
/// from the end, as in Python.
public enum PosSlice: Sendable, Equatable, Codable {
    /// Keep every position (`pos_slice=None`).
    case all
    /// One position; the axis is removed (`pos_slice=-1`).
    case index(Int)
    /// `start:stop:step` with Python semantics (nil = open end).
    case range(start: Int?, stop: Int?, step: Int)
    /// The listed positions, in order (`pos_slice=[1, 4, 5]`); the axis keeps its place.
    case indices([Int])

    /// Whether applying the slice removes the axis.
    public var collapsesAxis: Bool { if case .index = self { return true } else { return false } }

    /// The positions selected along an axis of length `n`, or an error naming the bad index.
    public func positions(count n: Int) throws -> [Int] {
        func resolve(_ i: Int) throws -> Int {
            let r = i < 0 ? n + i : i
            guard r >= 0, r < n else {
                throw MechanicError.invalidArgument("position \(i) is outside an axis of length \(n)")
            }
            return r
        }
        switch self {
        case .all: return Array(0..<n)
        case let .index(i): return [try resolve(i)]
        case let .indices(list): return try list.map(resolve)
        case let .range(start, stop, step):
            guard step != 0 else { throw MechanicError.invalidArgument("a slice step cannot be 0") }
            // Python's slice.indices(n).
            func clamp(_ v: Int?, _ def: Int, lo: Int, hi: Int) -> Int {
                guard let v else { return def }
                let r = v < 0 ? v + n : v
                return min(max(r, lo), hi)
            }
            if step > 0 {
                let a = clamp(start, 0, lo: 0, hi: n), b = clamp(stop, n, lo: 0, hi: n)
                return a < b ? Array(stride(from: a, to: b, by: step)) : []
            }
            let a = clamp(start, n - 1, lo: -1, hi: n - 1), b = clamp(stop, -1, lo: -1, hi: n - 1)
            return a > b ? Array(stride(from: a, to: b, by: step)) : []
        }
    }

    /// Applies the slice to axis `axis` of `t` (negative counts from the end, as `dim=-2`).
    public func apply(_ t: Tensor, axis: Int) throws -> Tensor {
        if self == .all { return t }
        let ax = axis < 0 ? t.rank + axis : axis
        guard ax >= 0, ax < t.rank else {
            throw MechanicError.invalidArgument("cannot slice axis \(axis) of a tensor of shape \(t.shape)")
        }
        let n = t.shape[ax]
        let picks = try positions(count: n)
        let outer = t.shape[..<ax].reduce(1, *)
        let inner = t.shape[(ax + 1)...].reduce(1, *)
        var shape = t.shape
        if collapsesAxis { shape.remove(at: ax) } else { shape[ax] = picks.count }
        return Tensor(shape: shape) { out in
            t.data.withUnsafeBufferPointer { src in
                var o = 0
                for a in 0..<outer {
                    for p in picks {
                        let s = (a * n + p) * inner
                        for i in 0..<inner { out[o + i] = src[s + i] }
                        o += inner
                    }
                }
            }
        }
    }
}

/// A stack of residual-stream components with their TransformerLens labels: `tensor` is
/// `[components, *batch_and_pos_dims, d_model]` (the batch/position axes that the cache and the
/// position slice leave).
public struct ResidualStack: Sendable {
    public var labels: [String]
    public var tensor: Tensor

    public init(labels: [String], tensor: Tensor) {
        self.labels = labels
        self.tensor = tensor
    }

    public var count: Int { labels.count }
    public var dModel: Int { tensor.shape.last ?? 0 }

    /// One component by label, `[*batch_and_pos_dims, d_model]`.
    public func component(_ label: String) -> Tensor? {
        labels.firstIndex(of: label).map { tensor.slice0($0) }
    }

    /// Sum over the components, `[*batch_and_pos_dims, d_model]`.
    public func sum() -> Tensor {
        let inner = Array(tensor.shape.dropFirst())
        var out = Tensor(zeros: inner)
        let n = out.count
        tensor.data.withUnsafeBufferPointer { src in
            out.data.withUnsafeMutableBufferPointer { o in
                for c in 0..<(tensor.shape.first ?? 0) { for i in 0..<n { o[i] += src[c * n + i] } }
            }
        }
        return out
    }

    /// Stacks along the component axis (`torch.cat(dim=0)`); the trailing shapes must agree.
    public static func concatenate(_ parts: [ResidualStack]) throws -> ResidualStack {
        let nonEmpty = parts.filter { $0.count > 0 }
        guard let first = nonEmpty.first else { return parts.first ?? ResidualStack(labels: [], tensor: Tensor(zeros: [0])) }
        let inner = Array(first.tensor.shape.dropFirst())
        var data: [Float] = []
        var labels: [String] = []
        for p in nonEmpty {
            guard Array(p.tensor.shape.dropFirst()) == inner else {
                throw MechanicError.invalidArgument("cannot stack components of shape \(Array(p.tensor.shape.dropFirst())) with \(inner)")
            }
            data += p.tensor.data
            labels += p.labels
        }
        return ResidualStack(labels: labels, tensor: Tensor(shape: [labels.count] + inner, data: data))
    }
}
