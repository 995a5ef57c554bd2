/// Widening and transposing in one pass: a checkpoint's `[out, in]` matrix (PyTorch's `Linear`
/// layout, bf16/f16/f32 bytes) into a float32 `[in, out]` matrix (TransformerLens's `x @ W`
/// layout), optionally scaling each input row by a folded norm weight. A streamed block widens
/// every value once anyway; tiling makes the transpose ride along with that pass instead of
/// costing a second one.
///
/// `dst[i·ldd + o] = widen(src[o·cols + i]) · scale[i]` for `o < rows`, `i < cols`; without
/// `scale` the widened value is stored as is. `src` is read in place (e.g. a memory-mapped
/// checkpoint); `dst` may be a column slice of a wider matrix (`ldd ≥ rows`).
/// The values equal widening into `[out, in]`, transposing, then multiplying by `scale` (one
/// float32 product per value), bit for bit.
public func widenTransposed(_ dtype: DType, _ src: UnsafeRawPointer, rows: Int, cols: Int,
                            scale: UnsafePointer<Float>?, into dst: UnsafeMutablePointer<Float>, ldd: Int) {
    guard rows > 0, cols > 0 else { return }
    switch dtype {
    case .bf16: TransposeTiles<BF16Bits>.run(src, rows: rows, cols: cols, scale: scale, dst, ldd: ldd)
    case .f16: TransposeTiles<F16Bits>.run(src, rows: rows, cols: cols, scale: scale, dst, ldd: ldd)
    case .f32: TransposeTiles<F32Bits>.run(src, rows: rows, cols: cols, scale: scale, dst, ldd: ldd)
    }
}

/// How one stored element becomes a float32 (specialised per storage type, inlined in the tiles).
protocol StoredElement {
    static var size: Int { get }
    static func load(_ p: UnsafeRawPointer, _ index: Int) -> Float
}

enum BF16Bits: StoredElement {
    static var size: Int { 2 }
    @inline(__always) static func load(_ p: UnsafeRawPointer, _ i: Int) -> Float {
        floatFromBF16(p.loadUnaligned(fromByteOffset: 2 &* i, as: UInt16.self))
    }
}

enum F16Bits: StoredElement {
    static var size: Int { 2 }
    @inline(__always) static func load(_ p: UnsafeRawPointer, _ i: Int) -> Float {
        floatFromF16(p.loadUnaligned(fromByteOffset: 2 &* i, as: UInt16.self))
    }
}

enum F32Bits: StoredElement {
    static var size: Int { 4 }
    @inline(__always) static func load(_ p: UnsafeRawPointer, _ i: Int) -> Float {
        p.loadUnaligned(fromByteOffset: 4 &* i, as: Float.self)
    }
}

/// The tiled loop: 64×64 tiles, the strips of 64 source rows shared out over the cores (each
/// strip's source pages are read together: a memory-mapped checkpoint has 4 KiB pages, and
/// sweeping all rows per column tile would miss the TLB on nearly every row). A tile is widened
/// row by row into a small buffer whose row stride (65) is not a power of two, then written out
/// transposed: reading the source column-wise directly would put every row of a tile in the same
/// cache set (the rows of a 4096-wide matrix are 8 KiB apart) and miss L1 on each value.
enum TransposeTiles<E: StoredElement> {
    static var tile: Int { 64 }
    static var stride: Int { 65 }

    static func run(_ src: UnsafeRawPointer, rows: Int, cols: Int, scale: UnsafePointer<Float>?,
                    _ dst: UnsafeMutablePointer<Float>, ldd: Int) {
        let (s, d) = (ConstRawPointer(src), UncheckedPointer(dst))
        let g = scale.map(ConstPointer.init)
        let strips = (rows + tile - 1) / tile   // source rows = output columns
        // ≥ 64 KiB of output per task before threads pay.
        let grain = max(1, (1 << 14) / max(cols * tile, 1))
        Parallel.chunks(strips, grain: grain) { range in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: tile * stride) { buffer in
                guard let buf = buffer.baseAddress else { return }
                for strip in range {
                    let o0 = strip * tile, o1 = min(rows, o0 + tile)
                    var i0 = 0
                    while i0 < cols {
                        let i1 = min(cols, i0 + tile)
                        copyTile(s.raw, cols: cols, i0..<i1, o0..<o1, g?.raw, buf, d.raw, ldd: ldd)
                        i0 = i1
                    }
                }
            }
        }
    }

    /// One tile: source rows `o` × columns `i` → `buf[o − o0][i − i0]` (widened, scaled) →
    /// `dst[i][o]`.
    @inline(__always)
    static func copyTile(_ src: UnsafeRawPointer, cols: Int, _ ir: Range<Int>, _ or: Range<Int>,
                         _ scale: UnsafePointer<Float>?, _ buf: UnsafeMutablePointer<Float>,
                         _ dst: UnsafeMutablePointer<Float>, ldd: Int) {
        let (i0, o0, ni) = (ir.lowerBound, or.lowerBound, ir.count)
        // Unchecked index arithmetic in the inner loops (all indices lie inside the tile) so
        // that the widening vectorises.
        for o in or {
            let b = buf + (o - o0) * stride                              // buf[o - o0, :]
            let row = src + E.size * (o * cols + i0)                     // src[o, i0...]
            if let scale {
                let g = scale + i0
                for k in 0..<ni { b[k] = E.load(row, k) * g[k] }
            } else {
                for k in 0..<ni { b[k] = E.load(row, k) }
            }
        }
        let no = or.count
        for k in 0..<ni {
            let row = dst + (i0 + k) * ldd + o0                          // dst[i0 + k, o0...]
            for j in 0..<no { row[j] = buf[j &* stride &+ k] }
        }
    }
}
