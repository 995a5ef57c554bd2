// MechanicAnalysis/Neurons: top-activating examples over a corpus, neuron effects, and
// neuron-embedding congruence.

import Foundation
import Mechanic

/// Settings of a top-activating-examples search.
public struct NeuronSearchOptions: Sendable {
    public enum Order: String, Codable, Sendable, CaseIterable {
        case highest, lowest
    }
    /// How many examples to keep.
    public var topK = 20
    public var order = Order.highest
    /// Tokens per forward row including the BOS (default: min(n_ctx, 128)); at most n_ctx.
    public var chunkLength: Int?
    /// Chunks per forward pass.
    public var batchSize = 8
    /// Token prepended to every chunk (the BOS); nil to run chunks as they are.
    public var bos: Int?
    /// Context kept around each example (tokens before / after, within its chunk).
    public var contextBefore = 12
    public var contextAfter = 4
    /// Stop after this many documents / scored tokens.
    public var maxDocuments: Int?
    public var maxTokens: Int?
    /// Run only this shard's forward batches (batch b — chunks b·batchSize ..< (b+1)·batchSize of
    /// the whole corpus — belongs to shard b mod N); nil: all.
    public var shard: Shard?

    public init(topK: Int = 20, order: Order = .highest, chunkLength: Int? = nil, batchSize: Int = 8, bos: Int? = nil,
                contextBefore: Int = 12, contextAfter: Int = 4, maxDocuments: Int? = nil, maxTokens: Int? = nil, shard: Shard? = nil) {
        self.topK = topK
        self.order = order
        self.chunkLength = chunkLength
        self.batchSize = batchSize
        self.bos = bos
        self.contextBefore = contextBefore
        self.contextAfter = contextAfter
        self.maxDocuments = maxDocuments
        self.maxTokens = maxTokens
        self.shard = shard
    }
}

/// Where a running search is.
public struct NeuronSearchProgress: Sendable {
    public var documents: Int
    public var tokens: Int
    /// Share of the corpus read (0…1), when the source knows its size.
    public var fraction: Double?
}

/// The top examples of a probe over a corpus (of a shard's chunks, for a sharded search:
/// `documents`, `chunks` and `tokens` still count the whole corpus; merge with `merge(_:topK:)`).
public struct NeuronSearchResult: Codable, Sendable {
    public var probe: ActivationProbe
    public var order: NeuronSearchOptions.Order
    /// Best first (highest values, or lowest for `.lowest`); ties by document, then position.
    public var examples: [ActivationExample]
    public var documents: Int
    public var chunks: Int
    /// Tokens scored (BOS positions excluded).
    public var tokens: Int
    public var chunkLength: Int
    public var stats: RunningStats
    /// Chunks this search ran (`chunks` unless sharded).
    public var chunksInShard: Int
    /// FNV-1a of every document's index and tokens as searched (`InputsHash`), hex: shards of
    /// one corpus agree on it.
    public var inputsHash: String

    /// The strict total order of examples: better value first, ties by document, then position.
    public static func ranking(_ order: NeuronSearchOptions.Order) -> @Sendable (ActivationExample, ActivationExample) -> Bool {
        let highest = order == .highest
        return { a, b in
            if a.value != b.value { return highest ? a.value > b.value : a.value < b.value }
            return (a.document, a.position) < (b.document, b.position)
        }
    }
}

extension HookedTransformer {
    /// Neuroscope-style search: streams `corpus` through the model in chunks of at most n_ctx
    /// tokens (BOS + a slice of a document), runs only the blocks needed to reach the probe's
    /// hook, and keeps the `topK` tokens where the probe is highest (or lowest) with their
    /// context — a min-heap, so memory does not grow with the corpus.
    ///
    /// - Parameters:
    ///   - tokenize: turns a text document into ids without BOS (default: the model's tokenizer).
    ///   - display: a token's display string (default: `to_str_tokens` of the id, or `#id`).
    ///   - progress: called after each forward pass.
    public func topActivatingExamples(_ probe: ActivationProbe, corpus: inout some DocumentSource,
                                      options: NeuronSearchOptions = NeuronSearchOptions(),
                                      tokenize: ((String) throws -> [Int])? = nil,
                                      display: ((Int) -> String)? = nil,
                                      progress: ((NeuronSearchProgress) -> Void)? = nil) throws -> NeuronSearchResult {
        let o = options
        let chunkLength = o.chunkLength ?? min(config.nCtx, 128)
        guard chunkLength <= config.nCtx else {
            throw MechanicError.invalidArgument("chunk length \(chunkLength) exceeds the model's context (n_ctx = \(config.nCtx))")
        }
        let offset = o.bos == nil ? 0 : 1
        let body = chunkLength - offset
        guard body >= 1 else { throw MechanicError.invalidArgument("chunk length \(chunkLength) leaves no room for document tokens") }
        guard o.batchSize >= 1 else { throw MechanicError.invalidArgument("batch size must be at least 1 (got \(o.batchSize))") }
        let forwardOptions = try probe.forwardOptions(for: config)
        let tokenize = tokenize ?? { [self] in try self.toTokens($0, prependBOS: false) }

        var top = TopK<ActivationExample>(o.topK, better: NeuronSearchResult.ranking(o.order))
        var stats = RunningStats()
        var (documents, chunks, chunksInShard, tokens) = (0, 0, 0, 0)
        var hash = InputsHash()
        var pending: [(document: Int, start: Int, ids: [Int])] = []

        func flush() throws {
            guard !pending.isEmpty else { return }
            let rows = pending.map { (o.bos.map { [$0] } ?? []) + $0.ids }
            let batch = try TokenBatch.padding(rows, padId: rows[0][0], side: .right)
            let values = try probe.read(try forward(batch, options: forwardOptions).cache.require(probe.hook))
            for (b, chunk) in pending.enumerated() {
                for i in chunk.ids.indices {
                    let p = i + offset, v = values[b][p]
                    guard !v.isNaN else { continue }
                    stats.add(Double(v))
                    let candidate = ActivationExample(value: v, document: chunk.document, position: chunk.start + i,
                                                      tokens: [], values: [], focus: 0)
                    guard top.admits(candidate) else { continue }
                    let lo = max(offset, p - max(o.contextBefore, 0)), hi = min(rows[b].count - 1, p + max(o.contextAfter, 0))
                    top.insert(ActivationExample(value: v, document: chunk.document, position: chunk.start + i,
                                                 tokens: Array(rows[b][lo...hi]), values: Array(values[b][lo...hi]), focus: p - lo))
                }
            }
            pending.removeAll(keepingCapacity: true)
            progress?(NeuronSearchProgress(documents: documents, tokens: tokens, fraction: corpus.fractionRead))
        }

        reading: while let doc = try corpus.next() {
            if let m = o.maxDocuments, documents >= m { break }
            var ids = try doc.tokens ?? tokenize(doc.text ?? "")
            if let m = o.maxTokens { ids = Array(ids.prefix(max(m - tokens, 0))) }
            documents += 1
            hash.add(doc.index)
            hash.add(ids)
            var start = 0
            while start < ids.count {
                let chunkStart = start, piece = Array(ids[start..<min(start + body, ids.count)])
                // The unsharded run's forward batches (batchSize consecutive chunks) go round-robin
                // to the shards: each shard runs exactly the batches one run would (same rows, same
                // padding, so bit-identical values and ties), and shards differ by at most one batch.
                let owned = o.shard.map { (chunks / o.batchSize) % $0.count == $0.index } ?? true
                chunks += 1
                tokens += piece.count
                start += body
                guard owned else { continue }
                chunksInShard += 1
                pending.append((doc.index, chunkStart, piece))
                if pending.count == o.batchSize { try flush() }
            }
            if let m = o.maxTokens, tokens >= m { break reading }
        }
        try flush()

        let show = display ?? { [self] id in ReportTokens.label(id, model: self) }
        let examples = top.sorted.map { e -> ActivationExample in
            var e = e
            e.strings = e.tokens.map(show)
            return e
        }
        return NeuronSearchResult(probe: probe, order: o.order, examples: examples, documents: documents, chunks: chunks,
                                  tokens: tokens, chunkLength: chunkLength, stats: stats, chunksInShard: chunksInShard,
                                  inputsHash: hash.hex)
    }
}

/// Display strings of token ids for reports and tables.
public enum ReportTokens {
    /// One id as reports show it (`pieceString`: Llama's "▁" kept), or `#id` when the model has
    /// no tokenizer (or it yields nothing).
    public static func label(_ id: Int, model: HookedTransformer) -> String {
        let s = model.pieceString(id)
        return s.isEmpty ? "#\(id)" : s
    }

    public static func labels(_ ids: [Int], model: HookedTransformer) -> [String] {
        ids.map { label($0, model: model) }
    }
}
