import Mechanic

/// Prompt pairs of different lengths (a dataset of several templates). Each pair's clean and
/// corrupted prompts share a length; pairs of one length run together, and results whose shape
/// has no position axis (`attn_head_out_all_pos`, the head `_all_pos` kinds, `attn_head_result`,
/// `mlp_neuron`, path patching) combine over the groups exactly as batches do — each pair read
/// at its own final position. Position-indexed kinds need one length.
extension PatchingSweep {
    /// Pair indices grouped by prompt length, groups in order of their first pair; every pair is
    /// checked (non-empty, clean and corrupted of equal length).
    static func groupByLength(_ pairs: [PatchingPair]) throws -> [LengthGroup] {
        guard !pairs.isEmpty else { throw MechanicError.emptyInput("activation patching needs at least one prompt pair") }
        for (i, p) in pairs.enumerated() { try p.validate(index: pairs.count > 1 ? i : nil) }
        var groups: [LengthGroup] = []
        for (i, p) in pairs.enumerated() {
            if let g = groups.firstIndex(where: { $0.length == p.clean.count }) { groups[g].pairs.append(i) } else {
                groups.append(LengthGroup(length: p.clean.count, pairs: [i]))
            }
        }
        return groups
    }

    /// The batches the pairs go through in: up to `pairBatchSize` pairs of one length each, the
    /// groups in order (with one length: consecutive slices of the pairs).
    /// A sharded sweep's batches hold its own pairs only.
    func batches() -> [[PatchingPair]] {
        guard shard != nil else { return Self.batches(pairs, groups: lengthGroups, size: pairBatchSize) }
        let owned = lengthGroups.map { LengthGroup(length: $0.length, pairs: $0.pairs.filter(ownedPairs.contains)) }.filter { !$0.pairs.isEmpty }
        return Self.batches(pairs, groups: owned, size: pairBatchSize)
    }

    static func batches(_ pairs: [PatchingPair], groups: [LengthGroup], size: Int) -> [[PatchingPair]] {
        groups.flatMap { g in
            stride(from: 0, to: g.pairs.count, by: size).map { s in g.pairs[s..<min(s + size, g.pairs.count)].map { pairs[$0] } }
        }
    }

    /// `"15 tokens: pairs 0, 2, 4 …; 17 tokens: pairs 1, 3"` — which pairs have which length.
    var lengthSummary: String {
        lengthGroups.map { g in
            let shown = g.pairs.prefix(6).map(String.init).joined(separator: ", ")
            return "\(g.length) tokens: \(g.pairs.count == 1 ? "pair" : "\(g.pairs.count) pairs") \(shown)\(g.pairs.count > 6 ? " …" : "")"
        }.joined(separator: "; ")
    }

    /// Throws unless `kind`'s result can combine pairs of different lengths (no position axis).
    func requireOneLength(for kind: ActPatchKind) throws {
        guard lengthGroups.count > 1 else { return }
        let positional = kind.axes().contains { $0 == "pos" || $0 == "dest_pos" || $0 == "src_pos" }
        if positional {
            throw MechanicError.invalidArgument("\(kind.rawValue) results are indexed by position, but the prompt pairs have different lengths (\(lengthSummary)); "
                + "use a kind without a position axis (e.g. attn_head_out_all_pos), or pairs of one length")
        }
    }

    /// Throws unless every site patches whole positions-free selections (heads, neurons at
    /// every position, whole patterns) when the pairs have different lengths.
    func requireOneLength(for sites: [PatchSite]) throws {
        guard lengthGroups.count > 1, let bad = sites.first(where: { !$0.selection.isPositionFree }) else { return }
        throw MechanicError.invalidArgument("\(bad.hook) \(bad.selection) addresses positions, but the prompt pairs have different lengths (\(lengthSummary)); "
            + "patch whole heads or neurons, or give pairs of one length")
    }

    /// Mean ablation averages each position over the prompts: they need one length.
    func requireOneLengthForMeans() throws {
        guard lengthGroups.count > 1, mode == .ablate(.mean) else { return }
        throw MechanicError.invalidArgument("mean ablation averages every position over the prompts, but the prompt pairs have different lengths (\(lengthSummary)); "
            + "give pairs of one length, or use zero or resample ablation")
    }
}

/// The pairs of one prompt length (indices into the sweep's pairs).
public struct LengthGroup: Sendable, Equatable {
    public var length: Int
    public var pairs: [Int]
}

extension PatchSelection {
    /// True when the selection names no position: the same patch applies to prompts of any length.
    var isPositionFree: Bool {
        switch self {
        case .all, .head, .patternHead, .neuron: return true
        case .position, .positionHead, .patternDest, .patternDestSrc, .positionNeuron: return false
        case let .union(parts): return parts.allSatisfy(\.isPositionFree)
        }
    }
}
