// MechanicTensor: Tensor (shape + row-major float32 buffer), sgemm/linear (BLAS), LAPACK
// (dgeev eigenvalues, dgesdd SVD), activations, row kernels (softmax, log-sum-exp), half/bfloat16
// widening, Parallel.chunks. Depends on nothing but BLAS.

/// A dense, row-major float32 tensor: a shape and a contiguous buffer.
///
/// Storage is a Swift array, so copies are copy-on-write and a `Tensor` is a plain value.
/// Activations keep their batch axis (`[batch, pos, ...]`) while in memory.
public struct Tensor: Sendable, Equatable {
    public var shape: [Int]
    public var data: [Float]

    public init(shape: [Int], data: [Float]) {
        precondition(shape.reduce(1, *) == data.count, "Tensor: shape \(shape) does not hold \(data.count) values")
        self.shape = shape
        self.data = data
    }

    /// A tensor of zeros.
    public init(zeros shape: [Int]) {
        self.shape = shape
        self.data = [Float](repeating: 0, count: shape.reduce(1, *))
    }

    /// A tensor whose buffer is filled by `fill` (which must write every element).
    public init(shape: [Int], uninitialized fill: (UnsafeMutableBufferPointer<Float>) throws -> Void) rethrows {
        let n = shape.reduce(1, *)
        self.shape = shape
        self.data = try [Float](unsafeUninitializedCapacity: n) { buf, count in
            try fill(buf)
            count = n
        }
    }

    public var count: Int { data.count }
    public var rank: Int { shape.count }

    /// Same values, new shape (sizes must multiply to the same count). `-1` infers one axis.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var s = newShape
        if let i = s.firstIndex(of: -1) {
            let known = s.enumerated().filter { $0.offset != i }.map(\.element).reduce(1, *)
            s[i] = known == 0 ? 0 : count / known
        }
        return Tensor(shape: s, data: data)
    }

    /// Row-major strides of `shape`.
    public static func strides(of shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var acc = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[i] = acc
            acc *= shape[i]
        }
        return strides
    }

    /// Flat offset of a multi-index.
    @inlinable public func offset(_ index: [Int]) -> Int {
        var off = 0
        var acc = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            off += index[i] * acc
            acc *= shape[i]
        }
        return off
    }

    public subscript(_ index: Int...) -> Float {
        get { data[offset(index)] }
        set { data[offset(index)] = newValue }
    }

    /// The sub-tensor at `i` along axis 0: `[a, b, c] -> [b, c]`.
    public func slice0(_ i: Int) -> Tensor {
        let inner = Array(shape.dropFirst())
        let n = inner.reduce(1, *)
        return Tensor(shape: inner, data: Array(data[(i * n)..<((i + 1) * n)]))
    }

    /// Stack equally shaped tensors along a new axis 0.
    public static func stack(_ parts: [Tensor]) -> Tensor {
        guard let first = parts.first else { return Tensor(zeros: [0]) }
        var data = [Float]()
        data.reserveCapacity(first.count * parts.count)
        for p in parts { data.append(contentsOf: p.data) }
        return Tensor(shape: [parts.count] + first.shape, data: data)
    }

    /// Moves axes: `permuted([1, 0, 2])` on `[a, b, c]` gives `[b, a, c]`.
    public func permuted(_ axes: [Int]) -> Tensor {
        if axes == [1, 0] { return transposed2D() }
        let newShape = axes.map { shape[$0] }
        let oldStrides = Tensor.strides(of: shape)
        let srcStrides = axes.map { oldStrides[$0] }
        let n = count
        let r = rank
        return Tensor(shape: newShape) { out in
            data.withUnsafeBufferPointer { src in
                var idx = [Int](repeating: 0, count: r)
                var srcOff = 0
                for o in 0..<n {
                    out[o] = src[srcOff]
                    var d = r - 1
                    while d >= 0 {
                        idx[d] += 1
                        srcOff += srcStrides[d]
                        if idx[d] < newShape[d] { break }
                        srcOff -= srcStrides[d] * newShape[d]
                        idx[d] = 0
                        d -= 1
                    }
                }
            }
        }
    }

    /// `[r, c] -> [c, r]`, in 32×32 tiles so both sides stay in cache.
    func transposed2D() -> Tensor {
        let (r, c) = (shape[0], shape[1])
        let tile = 32
        return Tensor(shape: [c, r]) { out in
            data.withUnsafeBufferPointer { src in
                guard let o = out.baseAddress, let sb = src.baseAddress else { return }
                let (op, sp) = (UncheckedPointer(o), ConstPointer(sb))
                // Bands of `tile` source rows on all cores (each writes its own output columns).
                Parallel.chunks((r + tile - 1) / tile, grain: max(1, 65536 / max(tile * c, 1))) { bands in
                    for band in bands {
                        let i0 = band * tile
                        for j0 in stride(from: 0, to: c, by: tile) {
                            for i in i0..<min(i0 + tile, r) {
                                for j in j0..<min(j0 + tile, c) { op.raw[j * r + i] = sp.raw[i * c + j] }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Largest absolute value (0 for an empty tensor); infinities are skipped.
    public var maxAbs: Float {
        var m: Float = 0
        for v in data where v.isFinite { m = max(m, abs(v)) }
        return m
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let head = data.prefix(6).map { String(format: "%.5g", Double($0)) }.joined(separator: ", ")
        return "Tensor\(shape)[\(head)\(count > 6 ? ", …" : "")]"
    }
}
