// Mechanic: HookedTransformer — config, loading (Architectures/), weight processing, the forward
// with its hooks (Forward, Attention, Norm, Rotary, HookPoints, HookKind), the block kernels
// (Kernels/), gradients of activations (Backward/), KV cache, generation, loss, streaming blocks.
// Re-exports MechanicTensor, MechanicIO and MechanicTokenizers.

@_exported import MechanicTensor
@_exported import MechanicIO
@_exported import MechanicTokenizers
