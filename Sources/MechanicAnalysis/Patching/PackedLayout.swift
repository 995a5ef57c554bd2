import Mechanic

/// One row of the packed engine: pair `pair` under patch `variant` (a selection of the hook
/// point at `layer`), computed only from position `start` on — positions before the first
/// patched one are those of the target run at every layer, so they are read from its cache.
struct PackedRow {
    var variant: Int
    var pair: Int
    var layer: Int
    var start: Int
    var selection: PatchSelection
}

/// Rows of different lengths packed token after token: row r holds positions `start_r..<P`
/// at offsets `offset_r..<offset_r + length_r` of a `[tokens, ...]` tensor.
struct PackedLayout {
    let rows: [PackedRow]
    let positions: Int
    let offsets: [Int]
    let tokens: Int
    /// Absolute position of every token.
    let tokenPositions: [Int]

    init(_ rows: [PackedRow], positions P: Int) {
        self.rows = rows
        positions = P
        var offsets: [Int] = []
        var tokenPositions: [Int] = []
        var t = 0
        for r in rows {
            offsets.append(t)
            tokenPositions += Array(r.start..<P)
            t += P - r.start
        }
        self.offsets = offsets
        tokens = t
        self.tokenPositions = tokenPositions
    }

    func length(_ r: Int) -> Int { positions - rows[r].start }

    /// Gathers each row's positions `start..<P` of its pair from `t [pairs, P, inner...]` → `[tokens, inner...]`.
    func pack(_ t: Tensor) -> Tensor {
        let inner = Array(t.shape.dropFirst(2))
        let per = inner.reduce(1, *)
        var data = [Float]()
        data.reserveCapacity(tokens * per)
        for r in rows {
            let base = (r.pair * positions + r.start) * per
            data += t.data[base..<(base + (positions - r.start) * per)]
        }
        return Tensor(shape: [tokens] + inner, data: data)
    }

    /// Gathers query rows `start..<P` of each row's pair from a pattern `[pairs, heads, P, P]` →
    /// per row `[heads, length, P]`, rows concatenated.
    func packPattern(_ t: Tensor) -> Tensor {
        let (H, P) = (t.shape[1], positions)
        var data = [Float]()
        data.reserveCapacity(H * tokens * P)
        for r in rows {
            for h in 0..<H {
                let base = ((r.pair * H + h) * P + r.start) * P
                data += t.data[base..<(base + (P - r.start) * P)]
            }
        }
        return Tensor(shape: [H * tokens * P], data: data)
    }

    /// Offset of row r's pattern block (`[heads, length, P]`) in a packed pattern.
    func patternOffset(_ r: Int, heads: Int) -> Int { offsets[r] * heads * positions }

    /// The last token of each row, `x [tokens, d]` → `[rows, d]`.
    func lastTokens(_ x: Tensor) -> Tensor {
        let d = x.shape.last ?? 0
        var data = [Float]()
        data.reserveCapacity(rows.count * d)
        for r in rows.indices {
            let t = offsets[r] + length(r) - 1
            data += x.data[(t * d)..<((t + 1) * d)]
        }
        return Tensor(shape: [rows.count, d], data: data)
    }

    /// Writes the source values of each row's selection into `act` (packed, in this layout):
    /// position-major activations (`[tokens, inner...]`, full per-row shape `[P, inner...]`)
    /// or patterns (`isPattern`, full per-row shape `[heads, P, P]`). `source` is
    /// `[pairs or 1, full per-row shape...]`; nil writes zeros.
    func patch(_ act: inout Tensor, fullRowShape: [Int], source: Tensor?, isPattern: Bool) throws {
        let fullPer = fullRowShape.reduce(1, *)
        let srcRows = source?.shape.first ?? 1
        let P = positions
        var writes: [(Int, Int)] = []   // (packed index, source index)
        for (r, row) in rows.enumerated() {
            let ranges = try row.selection.ranges(shape: fullRowShape)
            let s = (srcRows == 1 ? 0 : row.pair) * fullPer
            if isPattern {
                let H = fullRowShape[0], len = P - row.start, base = patternOffset(r, heads: H)
                for rg in ranges {
                    for i in rg {
                        let (h, q, k) = (i / (P * P), (i / P) % P, i % P)
                        guard q >= row.start else { continue }
                        writes.append((base + (h * len + q - row.start) * P + k, s + i))
                    }
                }
            } else {
                let inner = fullPer / P, base = offsets[r] * inner - row.start * inner
                for rg in ranges {
                    for i in rg where i / inner >= row.start { writes.append((base + i, s + i)) }
                }
            }
        }
        act.data.withUnsafeMutableBufferPointer { a in
            for (o, i) in writes { a[o] = source?.data[i] ?? 0 }
        }
    }

    /// This layout followed by `other`'s rows.
    func appending(_ other: PackedLayout) -> PackedLayout { PackedLayout(rows + other.rows, positions: positions) }
}

extension PatchSelection {
    /// The first position a patch can change at its layer (its query row for patterns); 0
    /// when it spans every position.
    package var suffixStart: Int {
        switch self {
        case let .position(p), let .positionHead(p, _), let .positionNeuron(p, _): return p
        case let .patternDest(_, d), let .patternDestSrc(_, d, _): return d
        case let .union(parts): return parts.map(\.suffixStart).min() ?? 0
        default: return 0
        }
    }
}

/// `[a..., d]` tensors with equal trailing shape joined along axis 0.
func concatRows(_ a: Tensor, _ b: Tensor) -> Tensor {
    if a.count == 0 { return b }
    if b.count == 0 { return a }
    return Tensor(shape: [a.shape[0] + b.shape[0]] + a.shape.dropFirst(), data: a.data + b.data)
}
