import MechanicTensor

extension Kernels {
    /// Attention scores of one sequence for every head (or the heads `include` selects; the
    /// others are left as they are), on a range of query rows:
    ///
    ///     scores[h, i, j] = q[i, h] · k[j, h / group] / scale     (i < queries, j < keys)
    ///
    /// masked to `-inf` where key j comes after query i (`j > firstQuery + i`: query row i sits at
    /// key position `firstQuery + i`) or is padding (`keyMask[j] == 0`); with `softmax`, each row
    /// is then replaced by its softmax (the pattern; a fully masked row gives zeros).
    ///
    /// - q:      `[queries, heads, d_head]` (row stride `heads · d_head`)
    /// - k:      `[keys, kv_heads, d_head]` (row stride `kv_heads · d_head`), after rotary
    /// - scores: `[heads, queries, keys]`
    public static func attentionScores(_ s: AttentionShape, q: UnsafePointer<Float>, k: UnsafePointer<Float>,
                                       queries: Int, keys: Int, firstQuery: Int, keyMask: [Int]? = nil,
                                       scale: Float, softmax: Bool, include: (Int) -> Bool = { _ in true },
                                       scores: UnsafeMutablePointer<Float>) {
        let (H, K, E) = (s.heads, s.kvHeads, s.dHead)
        guard queries > 0, keys > 0 else { return }
        for h in 0..<H where include(h) {
            let out = scores + h * queries * keys                        // [queries, keys] of head h
            sgemm(transB: true, m: queries, n: keys, k: E, alpha: 1 / scale,
                  a: q + h * E, lda: H * E,                              // q[:, h]  [queries, d_head]
                  b: k + s.kvHead(h) * E, ldb: K * E,                    // k[:, g]  [keys, d_head]
                  c: out, ldc: keys)
            for i in 0..<queries {
                let row = out + i * keys
                let visible = min(max(firstQuery + i + 1, 0), keys)     // keys 0..<visible are not in the future
                for j in visible..<keys { row[j] = -.infinity }
                if let keyMask { for j in 0..<visible where keyMask[j] == 0 { row[j] = -.infinity } }
            }
            if softmax { Rows.softmax(out, rows: queries, n: keys) }
        }
    }

    /// The attention-weighted values of one sequence for every head (or those `include` selects):
    ///
    ///     z[i, h] = Σ_j pattern[h, i, j] · v[j, h / group]
    ///
    /// - pattern: `[heads, queries, keys]`
    /// - v:       `[keys, kv_heads, d_head]` (row stride `kv_heads · d_head`)
    /// - z:       `[queries, heads, d_head]` (row stride `heads · d_head`), overwritten
    public static func attentionMix(_ s: AttentionShape, pattern: UnsafePointer<Float>, v: UnsafePointer<Float>,
                                    queries: Int, keys: Int, include: (Int) -> Bool = { _ in true },
                                    z: UnsafeMutablePointer<Float>) {
        let (H, K, E) = (s.heads, s.kvHeads, s.dHead)
        guard queries > 0 else { return }
        for h in 0..<H where include(h) {
            sgemm(m: queries, n: E, k: keys,
                  a: pattern + h * queries * keys, lda: keys,            // pattern[h]  [queries, keys]
                  b: v + s.kvHead(h) * E, ldb: K * E,                    // v[:, g]     [keys, d_head]
                  c: z + h * E, ldc: H * E)                              // z[:, h]     [queries, d_head]
        }
    }

    /// A loop over every (sequence, head) pair, `body(b, h)`: spread over the cores when each
    /// head's products (`productSize` = m·n·k) are at most 2^18 multiply-adds — what OpenBLAS
    /// runs on one thread, so one core would otherwise idle — and in order for larger ones
    /// (which OpenBLAS threads itself). `body` must write only its own pair's outputs.
    public static func eachHead(batch: Int, heads: Int, productSize: Int, _ body: (Int, Int) -> Void) {
        let n = batch * heads
        guard productSize <= 1 << 18, n > 1 else {
            for i in 0..<n { body(i / heads, i % heads) }
            return
        }
        Parallel.chunks(n, grain: 1) { r in for i in r { body(i / heads, i % heads) } }
    }
}
