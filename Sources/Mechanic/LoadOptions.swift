import Foundation

/// How `HookedTransformer.load(_:options:)` loads a model directory.
public struct LoadOptions: Sendable {
    /// The processing `from_pretrained` applies (`.none` = `from_pretrained_no_processing`).
    public var processing: WeightProcessing
    /// Keep blocks in the checkpoint and widen them per use (nil = automatically, see `load`).
    /// A streamed model does not use the weight cache.
    public var streaming: Bool?
    /// A tokenizer.json, directory or tokenizer.model to use instead of the directory's own.
    public var tokenizer: URL?
    /// Use the processed-weights cache (`WeightCache`): map it when it is valid, else build it.
    /// false reads and processes the checkpoint on every load and writes nothing.
    public var weightCache: Bool
    /// Where the cache lives (nil = `WeightCache.defaultDirectory()`: `$MECHANIC_CACHE`, else
    /// `$XDG_CACHE_HOME/mechanic`, else `~/.cache/mechanic`).
    public var cacheDirectory: URL?

    public init(processing: WeightProcessing = .default, streaming: Bool? = nil, tokenizer: URL? = nil,
                weightCache: Bool = true, cacheDirectory: URL? = nil) {
        self.processing = processing
        self.streaming = streaming
        self.tokenizer = tokenizer
        self.weightCache = weightCache
        self.cacheDirectory = cacheDirectory
    }
}

/// Where a loaded model's weights came from, and how much of them is mapped from the cache file
/// in place (`HookedTransformer.weightLoad`).
public struct WeightLoadReport: Sendable, Equatable, Codable {
    public enum Source: String, Sendable, Codable {
        /// Mapped from a valid cache file written by an earlier load.
        case cache
        /// The checkpoint was processed and the cache file written by this load, then mapped.
        case builtCache = "built_cache"
        /// Read and processed from the checkpoint into memory (cache off, or it could not be written).
        case checkpoint
        /// Blocks streamed from the checkpoint (large models; no cache).
        case streamed
        /// Built in memory (`init(config:weights:)`, built-in models).
        case memory
    }

    public var source: Source
    /// The cache file used or written.
    public var cacheFile: String?
    /// Bytes of weights whose pages are the cache file's (mapped in place) and bytes copied.
    public var mappedBytes: Int
    public var copiedBytes: Int
    /// Why a cache file was rebuilt or not used (a corrupt file, a cache directory that cannot be written).
    public var note: String?

    public init(source: Source, cacheFile: String? = nil, mappedBytes: Int = 0, copiedBytes: Int = 0, note: String? = nil) {
        self.source = source
        self.cacheFile = cacheFile
        self.mappedBytes = mappedBytes
        self.copiedBytes = copiedBytes
        self.note = note
    }
}
