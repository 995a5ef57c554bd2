/// What a shard run prints: which shard it did and where its partial result went.
public struct ShardWritten: Codable, Sendable, Equatable {
    public var shard: String
    public var out: String
    /// Items (prompt pairs, documents) in this shard, and in the whole run.
    public var items: Int
    public var totalItems: Int

    public init(shard: String, out: String, items: Int, totalItems: Int) {
        (self.shard, self.out, self.items, self.totalItems) = (shard, out, items, totalItems)
    }

    public var sentence: String { "wrote shard \(shard) (\(items) of \(totalItems) items) to \(out); merge the shards with `mechanic merge`" }
}
