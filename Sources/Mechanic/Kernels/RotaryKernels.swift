import MechanicTensor

extension RotaryTables {
    /// The tables of a model that rotates (nil when it has no rotary dimensions).
    public static func rotating(_ c: ModelConfig) -> RotaryTables? {
        c.positionalEmbedding == .rotary && c.rotaryDim > 0 ? RotaryTables(c) : nil
    }

    /// Rotates rows `x [rows, heads, d_head]` in place (`hook_rot_q`/`hook_rot_k` of any set of
    /// tokens); `positions[t]` is row t's position.
    public func apply(rows x: inout Tensor, positions: [Int]) {
        let shape = x.shape
        var batched = x.reshaped([1] + shape)  // [rows, heads, d_head] -> [1, rows, heads, d_head]
        apply(&batched, positions: [positions])
        x = batched.reshaped(shape)
    }
}
