import Foundation
import MechanicIO
import MechanicTensor

/// Blocks of a large model read from the memory-mapped checkpoint on demand: converted to
/// TransformerLens's layout, processed and widened to float32 one block at a time, after which
/// the block's mapped pages are handed back to the kernel (so resident memory stays near one
/// block, not the whole checkpoint). Llama-family blocks are widened and transposed in one pass
/// from the mapping into reused buffers (`LlamaArchitecture.mappedBlock`); the others are read
/// with `pread` and converted as in a resident load.
final class StreamingBlocks: @unchecked Sendable {
    let checkpoint: Checkpoint
    let architecture: Architecture
    /// The config before processing.
    let config: ModelConfig
    let processing: WeightProcessing
    private let buffers = BlockBufferPool()

    init(checkpoint: Checkpoint, architecture: Architecture, config: ModelConfig, processing: WeightProcessing) throws {
        self.checkpoint = checkpoint
        self.architecture = architecture
        self.config = config
        self.processing = processing
        // Strictness as for resident loading: every tensor must belong to some block or the globals.
        var r = architecture.reader(checkpoint)
        firstGlobals = try architecture.globals(&r, config)
        for l in 0..<config.nLayers { try r.markBlock(l, architecture, config) }
        try r.rejectUnused(ignoring: architecture.ignoredBuffers)
    }

    /// The globals read by the strictness check, handed to the first `globals()` call (reading
    /// them again would widen the embedding and unembedding, 1 GB for a 7B model, twice).
    private var firstGlobals: ModelWeights?

    func globals() throws -> ModelWeights {
        if let g = firstGlobals {
            firstGlobals = nil
            return g
        }
        var r = architecture.reader(checkpoint)
        return try architecture.globals(&r, config)
    }

    func load(_ l: Int) throws -> BlockWeights {
        if l + 1 < config.nLayers {  // read the next block from disk while this one computes
            var next = architecture.reader(checkpoint)
            try? next.markBlock(l + 1, architecture, config)
            for name in next.used { checkpoint.prefetch(name) }
        }
        if architecture == .llama {
            let buffers = buffers.take()
            defer { self.buffers.give(buffers) }
            return try LlamaArchitecture.mappedBlock(checkpoint, l, config, processing: processing, buffers: buffers)
        }
        var r = architecture.reader(checkpoint)
        r.byReading = true
        var b = try architecture.block(&r, l, config)
        processing.processBlock(&b, config: config)
        for name in r.used { checkpoint.release(name) }
        return b
    }
}
