// Sharding/: splitting one long sweep into N independent processes (Slurm array tasks,
// Kubernetes Indexed Job pods, or plain background jobs) and merging their partial results
// into exactly the result of one run. Shard (which 1/N), ShardManifest (what a partial was
// computed from), PartialFile (the file on disk), ShardMerge (checks a set of partials).

/// Which 1/N of a sweep's work one process does: shard `index` of `count` (0-based).
public struct Shard: Equatable, Hashable, Codable, Sendable, CustomStringConvertible {
    public let index: Int
    public let count: Int

    /// Throws unless `0 ≤ index < count`.
    public init(index: Int, count: Int) throws {
        guard count >= 1 else { throw ShardError.badSpec("the shard count is \(count); give at least 1") }
        guard (0..<count).contains(index) else {
            throw ShardError.badSpec("shard \(index) of \(count) does not exist; shards are numbered 0 to \(count - 1)")
        }
        self.index = index
        self.count = count
    }

    /// `"K/N"`, e.g. `"2/7"` (K from 0 to N−1).
    public init(parsing text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let k = Int(parts[0].trimmingCharacters(in: .whitespaces)),
              let n = Int(parts[1].trimmingCharacters(in: .whitespaces)) else {
            throw ShardError.badSpec("shard \"\(text)\" is not K/N (e.g. 0/4: the first of four shards)")
        }
        try self.init(index: k, count: n)
    }

    /// The shard of a Slurm array task or a Kubernetes Indexed Job pod, from its environment:
    /// Slurm — K = `SLURM_ARRAY_TASK_ID` − `SLURM_ARRAY_TASK_MIN` (0 when unset), N =
    /// `SLURM_ARRAY_TASK_COUNT` (or `count`); Kubernetes — K = `JOB_COMPLETION_INDEX`, N = `count`
    /// (the Job's `completions`, which the pod's environment does not hold).
    public static func fromEnvironment(_ env: [String: String], count: Int? = nil) throws -> Shard {
        func integer(_ key: String) throws -> Int? {
            guard let raw = env[key] else { return nil }
            guard let v = Int(raw.trimmingCharacters(in: .whitespaces)) else {
                throw ShardError.badSpec("\(key)=\"\(raw)\" is not an integer")
            }
            return v
        }
        if let id = try integer("SLURM_ARRAY_TASK_ID") {
            let min = try integer("SLURM_ARRAY_TASK_MIN") ?? 0
            guard let n = try integer("SLURM_ARRAY_TASK_COUNT") ?? count else {
                throw ShardError.badSpec("SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not; give the shard count")
            }
            let (k, overflow) = id.subtractingReportingOverflow(min)
            guard !overflow else { throw ShardError.badSpec("SLURM_ARRAY_TASK_ID \(id) − SLURM_ARRAY_TASK_MIN \(min) overflows") }
            return try Shard(index: k, count: n)
        }
        if let k = try integer("JOB_COMPLETION_INDEX") {
            guard let count else {
                throw ShardError.badSpec("JOB_COMPLETION_INDEX is set; give the shard count (the Job's completions) too")
            }
            return try Shard(index: k, count: count)
        }
        throw ShardError.badSpec("neither SLURM_ARRAY_TASK_ID (Slurm array) nor JOB_COMPLETION_INDEX (Kubernetes Indexed Job) is set")
    }

    /// The items `[lo, hi)` of `total` this shard owns: consecutive, sizes differing by at most
    /// one (`total·K/N ..< total·(K+1)/N`), so the N shards cover `0..<total` exactly once.
    public func range(of total: Int) -> Range<Int> {
        // total·K/N without overflow: K < N, so split total = q·N + r.
        func start(_ k: Int) -> Int {
            let (q, r) = total.quotientAndRemainder(dividingBy: count)
            return q * k + (r * k) / count
        }
        return start(index)..<start(index + 1)
    }

    /// How many of items `0..<total` are this shard's when item g belongs to shard g mod N.
    public func roundRobinCount(of total: Int) -> Int {
        total > index ? (total - index - 1) / count + 1 : 0
    }

    public var description: String { "\(index)/\(count)" }
}

/// How a sharded run splits its items among the shards.
public enum ShardSplit: String, Codable, Sendable {
    /// Consecutive balanced ranges (`Shard.range`): prompt pairs.
    case ranges
    /// Item g to shard g mod N (`Shard.roundRobinCount`): a corpus's forward batches, read as a stream.
    case roundRobin = "round-robin"
}

/// Errors of sharded runs and of merging their partial results.
public enum ShardError: Error, Equatable, CustomStringConvertible {
    case badSpec(String)
    case notAPartial(file: String, reason: String)
    case mismatch(file: String, other: String, field: String, value: String, otherValue: String)
    case missingShards([Int], count: Int)
    case duplicateShard(Int, files: [String])
    case unsupported(String)

    public var description: String {
        switch self {
        case let .badSpec(what): return what
        case let .notAPartial(file, reason): return "\(file) is not a Mechanic partial result: \(reason)"
        case let .mismatch(file, other, field, value, otherValue):
            return "\(file) and \(other) are partials of different runs: their \(field) differ (\(value) vs \(otherValue))"
        case let .missingShards(missing, count):
            return "shard\(missing.count == 1 ? "" : "s") \(missing.map(String.init).joined(separator: ", ")) of \(count) \(missing.count == 1 ? "is" : "are") missing; run \(missing.count == 1 ? "it" : "them") with --shard K/\(count) and merge again"
        case let .duplicateShard(k, files):
            return "shard \(k) is given twice (\(files.joined(separator: " and "))); give each shard's partial once"
        case let .unsupported(what): return what
        }
    }
}
