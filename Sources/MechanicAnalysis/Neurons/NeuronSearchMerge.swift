extension NeuronSearchResult {
    /// The search over the whole corpus from its shards' searches (`NeuronSearchOptions.shard`,
    /// in any order; `ShardMerge.check` first): the `topK` best of the union of the shards' top
    /// examples under the unsharded run's order (`ranking`: a strict total order, so ties fall as
    /// in one run), and the statistics combined by Chan's formula (`RunningStats.combine`).
    public static func merge(_ parts: [NeuronSearchResult], topK: Int) throws -> NeuronSearchResult {
        guard var merged = parts.first else { throw ShardError.badSpec("no partials to merge") }
        var top = TopK<ActivationExample>(topK, better: ranking(merged.order))
        var stats = RunningStats()
        var ran = 0
        for p in parts {
            guard p.probe == merged.probe, p.order == merged.order, p.chunkLength == merged.chunkLength,
                  p.documents == merged.documents, p.chunks == merged.chunks, p.tokens == merged.tokens,
                  p.inputsHash == merged.inputsHash else {
                throw ShardError.unsupported("the partials are searches of different probes or corpora (\(merged.probe.label), \(merged.chunks) chunks vs \(p.probe.label), \(p.chunks) chunks)")
            }
            for e in p.examples { top.insert(e) }
            stats.combine(p.stats)
            ran += p.chunksInShard
        }
        guard ran == merged.chunks else {
            throw ShardError.unsupported("the partials ran \(ran) of the corpus's \(merged.chunks) chunks")
        }
        merged.examples = top.sorted
        merged.stats = stats
        merged.chunksInShard = ran
        return merged
    }
}
