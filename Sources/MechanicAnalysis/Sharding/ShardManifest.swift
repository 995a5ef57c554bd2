import Foundation
import Mechanic

/// What a partial result was computed from: the command, the model, the options that shape the
/// result, a hash of the inputs, and which shard of how many items it holds. Two partials merge
/// only when everything but `shard` and `itemsInShard` agrees.
public struct ShardManifest: Codable, Equatable, Sendable {
    /// The partial-file format; a partial of another format is refused, not guessed at.
    public static let currentFormat = "mechanic-partial/1"

    public var format: String
    /// The command that wrote it (`patch`, …).
    public var command: String
    /// The model's identity (`ShardManifest.modelIdentity`).
    public var model: String
    /// The options that decide the result, by long option name (output and progress options left out).
    public var options: [String: String]
    /// FNV-1a 64 of the inputs after tokenization (`InputsHash`), hex.
    public var inputsHash: String
    public var shard: Shard
    /// Items (prompt pairs, documents) of the whole run, and of this shard.
    public var items: Int
    public var itemsInShard: Int
    /// How the items were split (absent: consecutive ranges, `Shard.range`).
    public var split: ShardSplit?

    public init(command: String, model: String, options: [String: String], inputsHash: String, shard: Shard, items: Int, itemsInShard: Int,
                split: ShardSplit? = nil) {
        self.format = Self.currentFormat
        self.command = command
        self.model = model
        self.options = options
        self.inputsHash = inputsHash
        self.shard = shard
        self.items = items
        self.itemsInShard = itemsInShard
        self.split = split
    }

    /// How many of `items` the shard holds under `split`.
    public var expectedItemsInShard: Int {
        switch split ?? .ranges {
        case .ranges: return shard.range(of: items).count
        case .roundRobin: return shard.roundRobinCount(of: items)
        }
    }

    /// A model's identity for merging: where it was loaded from, its shape, and a hash of values
    /// of its embedding and unembedding (so a retrained checkpoint at the same path differs).
    public static func modelIdentity(_ model: HookedTransformer) -> String {
        let c = model.config
        var h = InputsHash()
        for t in [model.weights.W_E, model.weights.W_U] {
            // Up to 4096 values spread over the matrix: cheap, and a changed matrix changes them.
            let step = max(1, t.count / 4096)
            for i in stride(from: 0, to: t.count, by: step) { h.add(Int(t.data[i].bitPattern)) }
        }
        return "\(model.source) (\(c.nLayers) layers, \(c.nHeads) heads, d_model \(c.dModel), d_vocab \(c.dVocab), weights \(h.hex))"
    }
}

/// FNV-1a 64 over a sequence of integers (token ids, answer ids, counts): a fingerprint that
/// tells whether two shards read the same inputs. Not a cryptographic hash.
public struct InputsHash: Sendable {
    public private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    public init() {}

    public mutating func add(_ x: Int) {
        var v = UInt64(truncatingIfNeeded: x)
        for _ in 0..<8 {
            value ^= v & 0xff
            value = value &* 0x0000_0100_0000_01b3
            v >>= 8
        }
    }

    public mutating func add(_ xs: [Int]) {
        add(xs.count)
        for x in xs { add(x) }
    }

    public var hex: String {
        let s = String(value, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}
