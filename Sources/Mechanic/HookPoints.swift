import Foundation
import MechanicTensor

/// Where a hook fires: the TransformerLens name and, for block hooks, the layer.
public struct HookPoint: Sendable, Hashable {
    public let name: String
    public let layer: Int?
}

/// A hook reads — and may replace in place — the activation at one hook point.
/// Activations keep the batch axis: `[batch, pos, ...]`.
public typealias HookFunction = (inout Tensor, HookPoint) throws -> Void

/// A hook bound to a hook-point name. Several hooks on one point run in the order given.
public struct Hook {
    public var name: String
    public var function: HookFunction
    public init(_ name: String, _ function: @escaping HookFunction) {
        self.name = name
        self.function = function
    }
}

/// Which hook points a cache keeps (TransformerLens's `names_filter`).
public enum NamesFilter: Sendable {
    case all
    case none
    case names([String])
    /// Keeps names in which the regular expression finds a match.
    case regex(String)
    case predicate(@Sendable (String) -> Bool)

    func select(from available: [String]) throws -> [String] {
        switch self {
        case .all: return available
        case .none: return []
        case let .names(list): return list
        case let .regex(pattern):
            let re: NSRegularExpression
            do { re = try NSRegularExpression(pattern: pattern) } catch {
                throw MechanicError.invalidArgument("'\(pattern)' is not a valid regular expression")
            }
            return available.filter { re.firstMatch(in: $0, range: NSRange($0.startIndex..., in: $0)) != nil }
        case let .predicate(p): return available.filter(p)
        }
    }
}

/// Optional hook points that cost memory or time, off unless asked for — as TransformerLens's
/// `use_attn_result`, `use_split_qkv_input`, `use_attn_in`, `use_hook_mlp_in`.
/// Registering a hook on, or caching by name, one of these points switches it on.
public struct HookOptions: Sendable, Equatable {
    public var attnResult = false
    public var splitQKVInput = false
    public var attnIn = false
    public var mlpIn = false
    public init(attnResult: Bool = false, splitQKVInput: Bool = false, attnIn: Bool = false, mlpIn: Bool = false) {
        self.attnResult = attnResult
        self.splitQKVInput = splitQKVInput
        self.attnIn = attnIn
        self.mlpIn = mlpIn
    }
}

/// The hook-point names of one block, built once so the forward never formats strings.
struct BlockHookNames {
    let residPre, ln1Scale, ln1Normalized, q, k, v, rotQ, rotK, attnScores, pattern, z, result, attnOut,
        residMid, ln2Scale, ln2Normalized, pre, preLinear, post, mlpOut, residPost,
        attnIn, qInput, kInput, vInput, mlpIn: String

    init(_ l: Int) {
        func n(_ kind: HookKind) -> String { kind.name(layer: l) }
        residPre = n(.residPre)
        ln1Scale = n(.ln1Scale); ln1Normalized = n(.ln1Normalized)
        q = n(.q); k = n(.k); v = n(.v)
        rotQ = n(.rotQ); rotK = n(.rotK)
        attnScores = n(.attnScores); pattern = n(.pattern)
        z = n(.z); result = n(.result); attnOut = n(.attnOut)
        residMid = n(.residMid)
        ln2Scale = n(.ln2Scale); ln2Normalized = n(.ln2Normalized)
        pre = n(.pre); preLinear = n(.preLinear); post = n(.post)
        mlpOut = n(.mlpOut); residPost = n(.residPost)
        attnIn = n(.attnIn); qInput = n(.qInput); kInput = n(.kInput); vInput = n(.vInput)
        mlpIn = n(.mlpIn)
    }
}

extension ModelConfig {
    /// Every hook point this model fires, in firing order, given the optional points switched on.
    public func hookNames(_ o: HookOptions = HookOptions()) -> [String] {
        var names = [HookKind.embed.rawValue]
        if positionalEmbedding == .standard { names.append(HookKind.posEmbed.rawValue) }
        let norm = normalization != .none
        for l in 0..<nLayers {
            let n = BlockHookNames(l)
            names.append(n.residPre)
            if o.attnIn { names.append(n.attnIn) }
            if o.splitQKVInput { names += [n.qInput, n.kInput, n.vInput] }
            if norm { names += [n.ln1Scale, n.ln1Normalized] }
            names += [n.q, n.k, n.v]
            if positionalEmbedding == .rotary { names += [n.rotQ, n.rotK] }
            names += [n.attnScores, n.pattern, n.z]
            if o.attnResult { names.append(n.result) }
            names.append(n.attnOut)
            if !attnOnly {
                if !parallelAttnMLP { names.append(n.residMid) }
                if o.mlpIn { names.append(n.mlpIn) }
                if norm { names += [n.ln2Scale, n.ln2Normalized] }
                names.append(n.pre)
                if gatedMLP { names.append(n.preLinear) }
                names += [n.post, n.mlpOut]
            }
            names.append(n.residPost)
        }
        if normalization != .none { names += [HookKind.lnFinalScale.rawValue, HookKind.lnFinalNormalized.rawValue] }
        return names
    }

    /// The optional points needed so that every name in `names` fires.
    func hookOptions(enabling names: some Sequence<String>, base: HookOptions) -> HookOptions {
        var o = base
        for n in names { HookKind(name: n)?.enable(in: &o) }
        return o
    }

    /// The hook points whose names `pattern` matches, in firing order. An optional point (off in
    /// `base`) is included — and so switched on — when the pattern spells its name (`result`,
    /// `q_input`, `k_input`, `v_input`, `attn_in`, `mlp_in`): `hook_q_input` caches the q inputs,
    /// while `.` or `blocks\.0\.` keep to the points that fire anyway. A pattern matching nothing
    /// is an error with the closest hook name.
    func selectHooks(matching pattern: String, base: HookOptions) throws -> [String] {
        let everything = hookNames(HookOptions(attnResult: true, splitQKVInput: true, attnIn: true, mlpIn: true))
        let active = Set(hookNames(base))
        let optional: Set<HookKind> = [.result, .qInput, .kInput, .vInput, .attnIn, .mlpIn]
        let selected = try NamesFilter.regex(pattern).select(from: everything).filter { name in
            if active.contains(name) { return true }
            guard let kind = HookKind(name: name), optional.contains(kind) else { return false }
            return pattern.contains(kind.shortName)
        }
        guard !selected.isEmpty else {
            let best = everything.min { editDistance($0, pattern) < editDistance($1, pattern) }
            throw MechanicError.invalidArgument("the names pattern '\(pattern)' matches no hook point of this model"
                                                + (best.map { " (did you mean '\($0)'?)" } ?? ""))
        }
        return selected
    }

    /// Throws `unknownHook` (with the closest valid name) unless `name` is a hook point of this model.
    func validateHookName(_ name: String) throws {
        let all = Set(hookNames(HookOptions(attnResult: true, splitQKVInput: true, attnIn: true, mlpIn: true)))
        guard all.contains(name) else {
            let best = all.min { editDistance($0, name) < editDistance($1, name) }
            throw MechanicError.unknownHook(name: name, suggestion: best)
        }
    }
}

/// Levenshtein distance, for "did you mean" suggestions.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a.utf8), b = Array(b.utf8)
    var prev = Array(0...b.count)
    for i in 1...max(a.count, 1) where !a.isEmpty {
        var cur = [i] + [Int](repeating: 0, count: b.count)
        for j in 1...max(b.count, 1) where !b.isEmpty {
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        prev = cur
    }
    return prev[b.count]
}

/// The hooks and cache requests of one forward pass.
final class HookRunner {
    private var hooks: [String: [HookFunction]] = [:]
    private let cacheNames: Set<String>
    private let active: Set<String>
    private(set) var cache: [String: Tensor] = [:]

    init(hooks: [Hook], cacheNames: Set<String>) {
        for h in hooks { self.hooks[h.name, default: []].append(h.function) }
        self.cacheNames = cacheNames
        active = cacheNames.union(self.hooks.keys)
    }

    /// Whether anything reads `name` (so that optional work can be skipped).
    @inline(__always) func wants(_ name: String) -> Bool { active.contains(name) }

    /// Runs the hooks on `name` in order, then caches the (possibly edited) value.
    @inline(__always) func fire(_ name: String, layer: Int?, _ t: inout Tensor) throws {
        guard active.contains(name) else { return }
        if let list = hooks[name] {
            let shape = t.shape
            for h in list {
                try h(&t, HookPoint(name: name, layer: layer))
                guard t.shape == shape, t.data.count == shape.reduce(1, *) else {
                    throw MechanicError.invalidArgument("a hook on \(name) changed the activation's shape from \(shape) to \(t.shape)")
                }
            }
        }
        if cacheNames.contains(name) { cache[name] = t }
    }
}
