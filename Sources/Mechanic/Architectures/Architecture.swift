// Mechanic/Architectures: one file per model family (GPT-2, GPT-NeoX, Llama): Hugging Face names
// and layouts → TransformerLens's, one block at a time; WeightReader reads and widens tensors.

import MechanicIO

/// The per-family conversions from Hugging Face checkpoint names and layouts to TransformerLens's,
/// one block at a time (so a large model can be converted block by block while it runs).
enum Architecture {
    case gpt2, gptNeoX, llama

    init(_ c: ModelConfig) {
        switch c.modelType {
        case "gpt2": self = .gpt2
        case "gpt_neox": self = .gptNeoX
        default: self = .llama
        }
    }

    func reader(_ checkpoint: Checkpoint) -> WeightReader {
        switch self {
        case .gpt2: return GPT2Architecture.reader(checkpoint)
        case .gptNeoX: return GPTNeoXArchitecture.reader(checkpoint)
        case .llama: return LlamaArchitecture.reader(checkpoint)
        }
    }

    func block(_ r: inout WeightReader, _ l: Int, _ c: ModelConfig) throws -> BlockWeights {
        switch self {
        case .gpt2: return try GPT2Architecture.block(&r, l, c)
        case .gptNeoX: return try GPTNeoXArchitecture.block(&r, l, c)
        case .llama: return try LlamaArchitecture.block(&r, l, c)
        }
    }

    /// Embedding, final norm and unembedding (`blocks` left empty).
    func globals(_ r: inout WeightReader, _ c: ModelConfig) throws -> ModelWeights {
        switch self {
        case .gpt2: return try GPT2Architecture.globals(&r, c)
        case .gptNeoX: return try GPTNeoXArchitecture.globals(&r, c)
        case .llama: return try LlamaArchitecture.globals(&r, c)
        }
    }

    var ignoredBuffers: [String] {
        switch self {
        case .gpt2: return GPT2Architecture.ignoredBuffers
        case .gptNeoX: return GPTNeoXArchitecture.ignoredBuffers
        case .llama: return LlamaArchitecture.ignoredBuffers
        }
    }
}
