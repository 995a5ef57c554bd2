import Mechanic

/// The per-prompt half of a diff between two prompt sets: for every component, the sum over
/// prompts of its vector at the aligned position, per side (float64), and the prompts counted.
/// One run sums every prompt; shard K of N sums prompts `Shard.range` of the A prompts followed by
/// the B prompts (one forward each), and the shards' sums add up (`merged`) to the one run's.
public struct DiffSums: Codable, Sendable, Equatable {
    public struct Component: Codable, Sendable, Equatable {
        public var label: String, hook: String, kind: String
        public var layer: Int?, head: Int?
        /// Σ over the side's prompts (empty before the first, or when lengths differ).
        public var sumA: [Double] = [], sumB: [Double] = []
        /// The distinct vector lengths seen, sorted: one unless prompts see different numbers of keys.
        public var lengths: [Int] = []

        mutating func add(_ v: [Float], sideA: Bool) {
            if !lengths.contains(v.count) { lengths = (lengths + [v.count]).sorted() }
            guard lengths.count == 1 else { (sumA, sumB) = ([], []); return }
            if sideA { Self.accumulate(&sumA, v.map(Double.init)) } else { Self.accumulate(&sumB, v.map(Double.init)) }
        }

        mutating func add(_ other: Component) {
            lengths = Array(Set(lengths + other.lengths)).sorted()
            guard lengths.count == 1 else { (sumA, sumB) = ([], []); return }
            Self.accumulate(&sumA, other.sumA)
            Self.accumulate(&sumB, other.sumB)
        }

        static func accumulate(_ sum: inout [Double], _ v: [Double]) {
            guard !v.isEmpty else { return }
            if sum.isEmpty { sum = v; return }
            for i in sum.indices where i < v.count { sum[i] += v[i] }
        }
    }

    /// In firing order (the same for every prompt).
    public var components: [Component] = []
    public var promptsA = 0, promptsB = 0
    /// Σ of `ln_final.hook_scale` at the aligned position over the A prompts.
    public var finalScaleA = 0.0

    public init() {}

    /// The sums of several shards' (any order): what one run over every prompt sums.
    public static func merged(_ parts: [DiffSums]) throws -> DiffSums {
        var out = DiffSums()
        for p in parts {
            if out.components.isEmpty {
                out.components = p.components.map { Component(label: $0.label, hook: $0.hook, kind: $0.kind, layer: $0.layer, head: $0.head) }
            }
            guard p.components.isEmpty || p.components.map(\.label) == out.components.map(\.label) else {
                throw ShardError.unsupported("the partials hold different components (\(p.components.count) vs \(out.components.count)); were they run on one model?")
            }
            for j in p.components.indices { out.components[j].add(p.components[j]) }
            out.promptsA += p.promptsA
            out.promptsB += p.promptsB
            out.finalScaleA += p.finalScaleA
        }
        return out
    }
}

extension ActivationDiff {
    /// Sums every component's vector at the aligned position over the prompts of `a` and `b`
    /// (`shard`: only its range of the A prompts followed by the B prompts). Patterns are padded
    /// to a common number of keys first when the sides' positions allow (see `run`).
    public static func sums(model: HookedTransformer, a: [[Int]], b: [[Int]], position: DiffPosition = .final,
                            shard: Shard? = nil, progress: WorkProgress? = nil) throws -> DiffSums {
        try checkSides(a, b)
        let posA = try a.map { try resolve(position, $0.count) }
        let posB = try b.map { try resolve(position, $0.count) }
        // Patterns of prompts whose lengths differ within a side but match pairwise (A[i] vs B[i])
        // are compared as a right-padded batch would hold them: zero weight on keys a prompt lacks.
        let keysAligned = a.count == b.count ? posA == posB : Set(posA + posB).count == 1
        let maxKeys = (posA + posB).max().map { $0 + 1 } ?? 0
        var out = DiffSums()
        var index: [String: Int] = [:]
        for i in shard?.range(of: a.count + b.count) ?? 0..<(a.count + b.count) {
            try progress?.check()
            let sideA = i < a.count
            let (tokens, pos) = sideA ? (a[i], posA[i]) : (b[i - a.count], posB[i - a.count])
            let cap = try capture(model, tokens, pos)
            if out.components.isEmpty {
                out.components = cap.order.map { DiffSums.Component(label: $0.label, hook: $0.hook, kind: $0.kind, layer: $0.layer, head: $0.head) }
                for (j, c) in out.components.enumerated() { index[c.label] = j }
            }
            for key in cap.order {
                guard let j = index[key.label], var v = cap.vectors[key.label] else { continue }
                if key.kind == "pattern" && keysAligned { v = padKeys(v, keys: pos + 1, to: maxKeys) }
                out.components[j].add(v, sideA: sideA)
            }
            if sideA {
                out.promptsA += 1
                out.finalScaleA += Double(cap.finalScale)
            } else {
                out.promptsB += 1
            }
        }
        return out
    }

    static func checkSides(_ a: [[Int]], _ b: [[Int]]) throws {
        guard !a.isEmpty, !b.isEmpty else { throw MechanicError.emptyInput("diff needs at least one prompt on each side") }
        for seq in a + b where seq.isEmpty { throw MechanicError.emptyInput("diff: a prompt has no tokens") }
    }
}
