import Foundation
import MechanicIO
import MechanicTensor
import MechanicTokenizers

extension HookedTransformer {
    /// Loads a Hugging Face model directory (config.json, safetensors weights, tokenizer files)
    /// and processes the weights as `from_pretrained` does unless told otherwise. Reads the
    /// checkpoint every time and writes nothing (no weight cache; see `load(_:options:)`).
    /// `streaming`: keep blocks in the checkpoint and widen them per use (nil = automatically when
    /// the float32 weights would take more than 40% of the available memory).
    /// `tokenizer`: a tokenizer.json, a directory or a SentencePiece tokenizer.model to use instead
    /// of the directory's tokenizer files (for checkpoints that ship without them).
    public static func load(_ directory: URL, processing: WeightProcessing = .default,
                            streaming: Bool? = nil, tokenizer tokenizerPath: URL? = nil) throws -> HookedTransformer {
        try load(directory, options: LoadOptions(processing: processing, streaming: streaming, tokenizer: tokenizerPath,
                                                 weightCache: false))
    }

    /// Loads a model directory as `options` say. With the weight cache (the default) the first
    /// load of a checkpoint writes its processed weights to the cache and maps them; later loads
    /// map the cache file directly (`WeightCache`). `weightLoad` tells what happened.
    public static func load(_ directory: URL, options: LoadOptions) throws -> HookedTransformer {
        let hf = try HFConfig(url: directory.appendingPathComponent("config.json"))
        let config = try architectureConfig(hf)
        let checkpoint = try Checkpoint(directory: directory)
        let floatBytes = checkpoint.names.reduce(0) { n, name in n + ((try? checkpoint.entry(name).info.count) ?? 0) * 4 }
        let streams = options.streaming ?? (Double(floatBytes) > 0.4 * Double(SystemMemory.availableBytes()))
        // Weights before the tokenizer: the tokenizer's temporaries are freed by then.
        let model: HookedTransformer
        if streams {
            let blocks = try StreamingBlocks(checkpoint: checkpoint, architecture: Architecture(config), config: config,
                                             processing: options.processing)
            var globals = try blocks.globals()
            options.processing.processGlobals(&globals, config: config)
            model = HookedTransformer(config: options.processing.processedConfig(config), globals: globals, streaming: blocks,
                                      tokenizer: nil, processing: options.processing, source: directory.path)
        } else {
            model = try resident(directory, checkpoint: checkpoint, config: config, options: options)
        }
        let tokenizer = try options.tokenizer.map { try Tokenizer.load(path: $0) } ?? loadTokenizer(directory)
        if let tokenizer {
            try checkTokenizer(tokenizer, fits: config.dVocab, configFile: hf.path)
            model.tokenizer = tokenizer
        }
        model.configBosTokenId = configBOS(hf, dVocab: model.config.dVocab)
        return model
    }

    /// A resident model: from a valid cache file, else processed block by block from the
    /// checkpoint (into the cache file, then mapped, when the cache is on).
    private static func resident(_ directory: URL, checkpoint: Checkpoint, config: ModelConfig,
                                 options: LoadOptions) throws -> HookedTransformer {
        let processed = options.processing.processedConfig(config)
        func make(_ w: ModelWeights, _ report: WeightLoadReport) throws -> HookedTransformer {
            let m = try HookedTransformer(config: processed, weights: w, processing: options.processing, source: directory.path)
            m.weightLoad = report
            return m
        }
        guard options.weightCache else {
            let source = ProcessedBlocks(checkpoint: checkpoint, config: config, processing: options.processing)
            var w = try source.globals()
            w.blocks = try (0..<config.nLayers).map { try source.block($0) }
            try source.rejectUnused()
            return try make(w, WeightLoadReport(source: .checkpoint))
        }
        let root = options.cacheDirectory ?? WeightCache.defaultDirectory()
        let (file, key) = try WeightCache.location(root: root, modelDirectory: directory, processing: options.processing)
        var note: String?
        if FileIdentity.inspect(file.path).kind == .regular {
            do {
                let (w, mapped, copied) = try WeightCacheFile.read(file, key: key, config: processed)
                return try make(w, WeightLoadReport(source: .cache, cacheFile: file.path, mappedBytes: mapped, copiedBytes: copied))
            } catch {
                note = "discarded the cache file \(file.path): \(error)"
                unlink(file.path)
            }
        }
        // Build: block by block into the cache file, then map it like any later load.
        func inMemory(_ why: String) throws -> HookedTransformer {
            // No usable cache (a read-only or full disk): the same weights, in memory.
            let source = ProcessedBlocks(checkpoint: checkpoint, config: config, processing: options.processing)
            var w = try source.globals()
            w.blocks = try (0..<config.nLayers).map { try source.block($0) }
            try source.rejectUnused()
            return try make(w, WeightLoadReport(source: .checkpoint, note: note.map { $0 + "; " + why } ?? why))
        }
        do {
            try buildCache(file, key: key, ProcessedBlocks(checkpoint: checkpoint, config: config, processing: options.processing))
        } catch let failure as WeightCacheWriteFailed {
            return try inMemory("the weight cache could not be written to \(file.path) (\(failure.reason))")
        }
        WeightCache.removeSiblings(of: file)
        do {
            let (w, mapped, copied) = try WeightCacheFile.read(file, key: key, config: processed)
            return try make(w, WeightLoadReport(source: .builtCache, cacheFile: file.path, mappedBytes: mapped, copiedBytes: copied, note: note))
        } catch let invalid as WeightCacheInvalid {
            return try inMemory("the weight cache just written to \(file.path) could not be read back (\(invalid.reason))")
        }
    }

    /// Writes the cache file from `source`, holding the globals and one block at a time (all of
    /// it released when this returns, before the file is mapped).
    private static func buildCache(_ file: URL, key: String, _ source: ProcessedBlocks) throws {
        let globals = try source.globals()
        let first = try source.block(0)
        try WeightCacheFile.write(file, key: key, globals: globals, first: first, layers: source.config.nLayers,
                                  block: { try source.block($0) }, finish: { try source.rejectUnused() })
    }
}

/// The checkpoint's weights read, converted and processed one block at a time, with `pread` (the
/// checkpoint's pages never enter this process's resident set, so a load never holds the whole
/// checkpoint and its processed copy at once). Records every tensor read, for the strictness check.
final class ProcessedBlocks {
    let checkpoint: Checkpoint
    let architecture: Architecture
    /// The config before processing.
    let config: ModelConfig
    let processing: WeightProcessing
    private var reader: WeightReader

    init(checkpoint: Checkpoint, config: ModelConfig, processing: WeightProcessing) {
        self.checkpoint = checkpoint
        self.architecture = Architecture(config)
        self.config = config
        self.processing = processing
        reader = architecture.reader(checkpoint)
        reader.byReading = true
    }

    /// Embedding, positions, final norm and unembedding, processed (`blocks` empty).
    func globals() throws -> ModelWeights {
        var g = try architecture.globals(&reader, config)
        processing.processGlobals(&g, config: config)
        return g
    }

    /// Block `l`, processed.
    func block(_ l: Int) throws -> BlockWeights {
        var b = try architecture.block(&reader, l, config)
        processing.processBlock(&b, config: config)
        return b
    }

    /// Throws for a checkpoint tensor no block or global read (after all were read).
    func rejectUnused() throws { try reader.rejectUnused(ignoring: architecture.ignoredBuffers) }
}
