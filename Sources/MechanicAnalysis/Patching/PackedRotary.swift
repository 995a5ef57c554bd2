import Mechanic

/// Rotary embeddings on packed rows: the core's `RotaryTables` applied to `[tokens, heads, d_head]`.
struct PackedRotary {
    let tables: RotaryTables

    init?(_ c: ModelConfig) {
        guard c.positionalEmbedding == .rotary, c.rotaryDim > 0 else { return nil }
        tables = RotaryTables(c)
    }

    /// Rotates `x [tokens, heads, d_head]` in place; `positions[t]` is token t's position.
    func apply(_ x: inout Tensor, positions: [Int]) {
        let shape = x.shape
        var batched = x.reshaped([1] + shape)  // [tokens, heads, d_head] -> [1, tokens, heads, d_head]
        tables.apply(&batched, positions: [positions])
        x = batched.reshaped(shape)
    }
}
