import Foundation
import MechanicIO
import MechanicTensor

/// Float32 buffers for one streamed block's large matrices, reused from block to block so that a
/// streamed forward allocates (and page-faults) them once rather than once per block.
///
/// A returned `BlockWeights` shares these arrays; the next fill writes into them in place when
/// that block is gone, and Swift's copy-on-write gives the next block fresh arrays when it is not
/// (a caller that keeps blocks keeps correct values, it just pays the allocation).
final class BlockBuffers {
    var wQKV: [Float] = []    // [d_model, (heads + 2·kv_heads)·d_head]
    var W_O: [Float] = []     // [n_heads·d_head, d_model]
    var W_in: [Float] = []    // [d_model, d_mlp]
    var W_gate: [Float] = []  // [d_model, d_mlp]
    var W_out: [Float] = []   // [d_mlp, d_model]
}

/// A pool of `BlockBuffers` (one per concurrent load; a forward uses one).
final class BlockBufferPool: @unchecked Sendable {
    private var free: [BlockBuffers] = []
    private let lock = NSLock()

    func take() -> BlockBuffers { lock.withLock { free.popLast() } ?? BlockBuffers() }
    func give(_ b: BlockBuffers) { lock.withLock { free.append(b) } }
}

extension LlamaArchitecture {
    /// Block `l` widened straight from the memory-mapped checkpoint into `buffers`, in the
    /// layout the forward reads: each `[out, in]` projection is widened and transposed in one
    /// tiled pass (`widenTransposed`), q/k/v straight into the fused matrix, with the RMSNorm
    /// weights folded into the same pass when `processing` folds norms. The remaining processing
    /// steps run as for any block. Values are bit-identical to `block(_:_:_:)` followed by
    /// `processing.processBlock` (the same widening and the same single product per value).
    static func mappedBlock(_ checkpoint: Checkpoint, _ l: Int, _ c: ModelConfig, processing: WeightProcessing,
                            buffers: BlockBuffers) throws -> BlockWeights {
        let (D, H, K, E, M) = (c.dModel, c.nHeads, c.nKeyValueHeads, c.dHead, c.dMLP)
        let width = (H + 2 * K) * E
        let p = "model.layers.\(l)."
        var r = WeightReader(checkpoint)
        let ln1 = try r.read(p + "input_layernorm.weight", shape: [D])
        let ln2 = try r.read(p + "post_attention_layernorm.weight", shape: [D])
        let fold = processing.foldLN && c.normHasWeights

        /// The stored matrix `name [rows, cols]`, widened and transposed into `dst[:, column...]`.
        func put(_ name: String, rows: Int, cols: Int, scale: Tensor?, _ dst: UnsafeMutablePointer<Float>, ldd: Int) throws {
            let (file, info) = try checkpoint.entry(name)
            guard info.shape == [rows, cols] else {
                throw SafeTensorsError.wrongShape(file: file.url.path, tensor: name, expected: [rows, cols], found: info.shape)
            }
            guard let dtype = info.dtype.floatType else {
                throw SafeTensorsError.integerWeight(file: file.url.path, tensor: name, dtype: info.dtype.rawValue)
            }
            let src = file.rawBytes(info)
            if let scale {
                scale.data.withUnsafeBufferPointer { g in
                    widenTransposed(dtype, src, rows: rows, cols: cols, scale: g.baseAddress, into: dst, ldd: ldd)
                }
            } else {
                widenTransposed(dtype, src, rows: rows, cols: cols, scale: nil, into: dst, ldd: ldd)
            }
            checkpoint.release(name)   // the mapped pages leave the resident set (the page cache keeps them)
        }
        func fill(_ array: inout [Float], _ count: Int, _ body: (UnsafeMutablePointer<Float>) throws -> Void) rethrows {
            if array.count != count { array = [Float](repeating: 0, count: count) }
            try array.withUnsafeMutableBufferPointer { if let b = $0.baseAddress { try body(b) } }
        }
        let g1 = fold ? ln1 : nil, g2 = fold ? ln2 : nil
        // q_proj [(h e), m] | k_proj | v_proj -> wQKV [m, (h e) | (k e) | (k e)]
        try fill(&buffers.wQKV, D * width) { w in
            try put(p + "self_attn.q_proj.weight", rows: H * E, cols: D, scale: g1, w, ldd: width)
            try put(p + "self_attn.k_proj.weight", rows: K * E, cols: D, scale: g1, w + H * E, ldd: width)
            try put(p + "self_attn.v_proj.weight", rows: K * E, cols: D, scale: g1, w + (H + K) * E, ldd: width)
        }
        // o_proj [m, (h e)] -> W_O [(h e), m] = [h, e, m]
        try fill(&buffers.W_O, H * E * D) { try put(p + "self_attn.o_proj.weight", rows: D, cols: H * E, scale: nil, $0, ldd: D) }
        // up_proj / gate_proj [mlp, m] -> [m, mlp]; down_proj [m, mlp] -> [mlp, m]
        try fill(&buffers.W_in, D * M) { try put(p + "mlp.up_proj.weight", rows: M, cols: D, scale: g2, $0, ldd: M) }
        try fill(&buffers.W_gate, D * M) { try put(p + "mlp.gate_proj.weight", rows: M, cols: D, scale: g2, $0, ldd: M) }
        try fill(&buffers.W_out, M * D) { try put(p + "mlp.down_proj.weight", rows: D, cols: M, scale: nil, $0, ldd: D) }

        var bias = [Float](repeating: 0, count: width)   // q | k | v biases (Qwen2), [(h e) | (k e) | (k e)]
        for (part, n, column) in [("q_proj", H, 0), ("k_proj", K, H * E), ("v_proj", K, (H + K) * E)] {
            if let b = try r.readIfPresent(p + "self_attn.\(part).bias", shape: [n * E]) {
                bias.replaceSubrange(column..<(column + n * E), with: b.data)
            }
        }
        var b = BlockWeights(
            ln1W: fold ? nil : ln1, ln1B: nil,
            wQKV: Tensor(shape: [D, width], data: buffers.wQKV), bQKV: Tensor(shape: [width], data: bias),
            attnShape: AttentionShape(heads: H, kvHeads: K, dHead: E),
            W_O: Tensor(shape: [H, E, D], data: buffers.W_O), b_O: Layout.zeros([D]),
            ln2W: fold ? nil : ln2, ln2B: nil,
            W_in: Tensor(shape: [D, M], data: buffers.W_in), W_gate: Tensor(shape: [D, M], data: buffers.W_gate),
            b_in: Layout.zeros([M]), W_out: Tensor(shape: [M, D], data: buffers.W_out), b_out: Layout.zeros([D]))
        // Norms are folded already (their weights are nil, so the fold is skipped); centring
        // applies to LayerNorm models only; value biases fold into b_O as for any block.
        processing.processBlock(&b, config: c)
        return b
    }
}
