import MechanicTensor

/// Keys (after rotary) and values of past positions, per layer, for incremental decoding.
/// `keys[l]`/`values[l]` are `[batch, past, n_kv_heads, d_head]`; `mask` is `[batch][past]`.
public final class KVCache {
    var keys: [[Float]]
    var values: [[Float]]
    public private(set) var mask: [[Int]]
    public private(set) var length = 0
    let batch: Int
    let rowWidth: Int  // n_kv_heads · d_head

    public init(config: ModelConfig, batch: Int) {
        keys = Array(repeating: [], count: config.nLayers)
        values = Array(repeating: [], count: config.nLayers)
        mask = Array(repeating: [], count: batch)
        self.batch = batch
        rowWidth = config.nKeyValueHeads * config.dHead
    }

    /// Appends `new` positions of layer `l` (`[batch, n, kv, d_head]`), returning the combined
    /// `[batch, past + n, kv, d_head]` buffer.
    func append(layer l: Int, keys k: Tensor, values v: Tensor) -> (keys: [Float], values: [Float]) {
        let n = k.shape[1]
        func merge(_ old: [Float], _ new: [Float]) -> [Float] {
            var out = [Float]()
            out.reserveCapacity(old.count + new.count)
            for b in 0..<batch {
                out.append(contentsOf: old[(b * length * rowWidth)..<((b + 1) * length * rowWidth)])
                out.append(contentsOf: new[(b * n * rowWidth)..<((b + 1) * n * rowWidth)])
            }
            return out
        }
        keys[l] = merge(keys[l], k.data)
        values[l] = merge(values[l], v.data)
        return (keys[l], values[l])
    }

    /// Records the mask of the new positions once every layer has appended them.
    func commit(mask newMask: [[Int]]) {
        for b in 0..<batch { mask[b] += newMask[b] }
        length += newMask.first?.count ?? 0
    }
}
