import Foundation
import Mechanic

/// How the dataset code turns text into token ids: whole prompts (with the model's BOS rule) and
/// answer pieces (no BOS). Injected so that generation can be tested without a model.
public struct PromptTokenizer: Sendable {
    public var encodePrompt: @Sendable (String) throws -> [Int]
    public var encodePiece: @Sendable (String) throws -> [Int]

    public init(encodePrompt: @escaping @Sendable (String) throws -> [Int], encodePiece: @escaping @Sendable (String) throws -> [Int]) {
        self.encodePrompt = encodePrompt
        self.encodePiece = encodePiece
    }

    /// A model's tokenizer with its BOS rule (`model.to_tokens`).
    public static func model(_ m: HookedTransformer, prependBOS: Bool? = nil) -> PromptTokenizer {
        PromptTokenizer(encodePrompt: { try m.toTokens($0, prependBOS: prependBOS) },
                        encodePiece: { try m.toTokens($0, prependBOS: false) })
    }

    /// A tokenizer on its own (no weights needed).
    public static func tokenizer(_ t: Tokenizer, prependBOS: Bool = true) -> PromptTokenizer {
        PromptTokenizer(encodePrompt: { try HookedTransformer.tokens($0, tokenizer: t, prependBOS: prependBOS) },
                        encodePiece: { try HookedTransformer.tokens($0, tokenizer: t, prependBOS: false) })
    }
}

/// Why a candidate pair was dropped.
public enum DropReason: String, Sendable, CaseIterable, Comparable {
    case lengthMismatch = "length_mismatch"
    case answerNotSingleToken = "answer_not_single_token"
    case wrongNotSingleToken = "wrong_not_single_token"
    case answerEqualsWrong = "answer_equals_wrong"
    case duplicate
    /// The pair's prompts have one length, but not the length of the other pairs of its template
    /// (or of the dataset, with `LengthPolicy.one`).
    case groupLength = "group_length"

    public static func < (a: DropReason, b: DropReason) -> Bool { a.rawValue < b.rawValue }
}

/// What happened while building a dataset.
public struct DatasetReport: Sendable, Equatable {
    /// Pairs asked for (generation) or read (`tokenize`).
    public var requested: Int
    /// Candidates built and checked.
    public var attempts: Int
    public var kept: Int
    public var dropped: [DropReason: Int]
    /// The first dropped candidate of each kind, described (e.g. the two tokenizations).
    public var examples: [DropReason: String]
    /// Generation: each template's token length (template index → tokens) and its kept pairs.
    public var templateLengths: [Int: Int] = [:]
    public var templateCounts: [Int: Int] = [:]

    public var droppedTotal: Int { dropped.values.reduce(0, +) }

    /// One line per fact, for stderr.
    public var summary: String {
        var lines = ["kept \(kept) of \(attempts) candidate pairs (\(requested) requested)"]
        for reason in dropped.keys.sorted() {
            lines.append("dropped \(dropped[reason] ?? 0) \(reason.rawValue)" + (examples[reason].map { " — e.g. \($0)" } ?? ""))
        }
        if !templateLengths.isEmpty {
            lines.append("lengths: " + templateLengths.keys.sorted().map { t in
                "template \(t) \(templateLengths[t] ?? 0) tokens (\(templateCounts[t] ?? 0) pair\(templateCounts[t] == 1 ? "" : "s"))"
            }.joined(separator: ", "))
        }
        if kept < requested { lines.append("warning: only \(kept) of \(requested) pairs could be made; widen the lists or templates") }
        return lines.joined(separator: "\n")
    }

}

/// `mechanic dataset --json` (through `ResultJSON`): `requested`, `attempts`, `kept`, `dropped`
/// (reason → count), `template_lengths` and `template_counts` (template index → tokens, pairs).
extension DatasetReport: Encodable {
    enum CodingKeys: String, CodingKey {
        case requested, attempts, kept, dropped, templateLengths = "template_lengths", templateCounts = "template_counts"
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(requested, forKey: .requested)
        try c.encode(attempts, forKey: .attempts)
        try c.encode(kept, forKey: .kept)
        try c.encode(Dictionary(uniqueKeysWithValues: dropped.map { ($0.key.rawValue, $0.value) }), forKey: .dropped)
        try c.encode(Dictionary(uniqueKeysWithValues: templateLengths.map { (String($0.key), $0.value) }), forKey: .templateLengths)
        try c.encode(Dictionary(uniqueKeysWithValues: templateCounts.map { (String($0.key), $0.value) }), forKey: .templateCounts)
    }
}

/// Which token lengths a generated dataset may mix.
public enum LengthPolicy: String, Sendable, CaseIterable {
    /// Every pair of one template has the same length (the first kept pair's): position-free
    /// patching kinds run each length group and combine them (the default).
    case perTemplate = "per-template"
    /// Every pair has the same length: every patching kind, position-indexed ones included.
    case one
    /// Only clean and corrupted of each pair need the same length.
    case any
}

/// Builds clean/corrupt pairs from templates, and checks user-written pairs.
public enum PairGenerator {
    /// `count` pairs from `spec`, drawn with SplitMix64 from `seed` (portable: the same seed gives the
    /// same file everywhere; a new seed, new pairs). Candidates whose prompts tokenize to different
    /// lengths, whose answer or wrong string is not one token, whose answer equals the wrong token,
    /// or that repeat an earlier pair are dropped and counted. Stops after `maxAttempts` candidates
    /// (default `max(100, 20 · count)`) even when fewer pairs were kept. `lengths` decides which
    /// lengths may mix: the first kept pair of a template (or of the dataset) fixes its length,
    /// and later candidates of another length are dropped as `groupLength`.
    public static func generate(_ spec: PairTemplateSpec, count: Int, seed: UInt64, tokenizer: PromptTokenizer,
                                maxAttempts: Int? = nil, lengths: LengthPolicy = .perTemplate) throws -> (pairs: [PromptPair], report: DatasetReport) {
        guard count >= 0 else { throw MechanicError.invalidArgument("the number of pairs must be ≥ 0 (got \(count))") }
        try spec.validate()
        let (twenty, overflow) = count.multipliedReportingOverflow(by: 20)
        let limit = maxAttempts ?? (overflow ? Int.max : max(100, twenty))
        var random = PortableRandom(seed: seed)
        var report = DatasetReport(requested: count, attempts: 0, kept: 0, dropped: [:], examples: [:])
        var pairs: [PromptPair] = []
        var seen = Set<String>()
        while pairs.count < count && report.attempts < limit {
            report.attempts += 1
            let (clean, corrupt, answer, wrong, template) = try draw(spec, &random)
            switch try check(clean: clean, corrupt: corrupt, answer: answer, wrong: wrong, tokenizer: tokenizer) {
            case .success(let pair):
                let n = pair.cleanTokens.count
                let fixed = lengths == .one ? report.templateLengths.values.first : report.templateLengths[template]
                if lengths != .any, let fixed, fixed != n {
                    drop(&report, .groupLength, "\(clean.debugDescription) is \(n) tokens; the pairs of "
                         + (lengths == .one ? "the dataset" : "template \(template)") + " are \(fixed)")
                    continue
                }
                guard seen.insert(clean + "\u{0}" + corrupt).inserted else {
                    drop(&report, .duplicate, "\(clean.debugDescription) drawn again")
                    continue
                }
                pairs.append(pair)
                report.templateLengths[template] = n
                report.templateCounts[template, default: 0] += 1
            case .failure(let failure):
                drop(&report, failure.reason, failure.detail)
            }
        }
        report.kept = pairs.count
        return (pairs, report)
    }

    /// Tokenizes and checks pairs a user wrote (JSON lines in): given token fields are kept, missing
    /// ones computed; pairs that fail the checks are dropped and counted.
    public static func tokenize(_ drafts: [PromptPairDraft], tokenizer: PromptTokenizer) throws -> (pairs: [PromptPair], report: DatasetReport) {
        var report = DatasetReport(requested: drafts.count, attempts: drafts.count, kept: 0, dropped: [:], examples: [:])
        var pairs: [PromptPair] = []
        for d in drafts {
            switch try check(clean: d.clean, corrupt: d.corrupt, answer: d.answer, wrong: d.wrong, tokenizer: tokenizer,
                             cleanTokens: d.cleanTokens, corruptTokens: d.corruptTokens, answerId: d.answerId, wrongId: d.wrongId) {
            case .success(let pair): pairs.append(pair)
            case .failure(let failure): drop(&report, failure.reason, (d.line.map { "line \($0): " } ?? "") + failure.detail)
            }
        }
        report.kept = pairs.count
        return (pairs, report)
    }

    /// A dropped candidate's reason and a readable description.
    public struct Failure: Error, Sendable {
        public var reason: DropReason
        public var detail: String
    }

    /// Checks one candidate: equal prompt lengths, single-token answer and wrong, answer ≠ wrong.
    public static func check(clean: String, corrupt: String, answer: String, wrong: String, tokenizer: PromptTokenizer,
                             cleanTokens: [Int]? = nil, corruptTokens: [Int]? = nil, answerId: Int? = nil,
                             wrongId: Int? = nil) throws -> Result<PromptPair, Failure> {
        let c = try cleanTokens ?? tokenizer.encodePrompt(clean)
        let k = try corruptTokens ?? tokenizer.encodePrompt(corrupt)
        guard c.count == k.count else {
            return .failure(Failure(reason: .lengthMismatch,
                                    detail: "\(clean.debugDescription) is \(c.count) tokens, \(corrupt.debugDescription) is \(k.count)"))
        }
        let a = try answerId.map { [$0] } ?? tokenizer.encodePiece(answer)
        guard a.count == 1 else {
            return .failure(Failure(reason: .answerNotSingleToken, detail: "answer \(answer.debugDescription) is \(a.count) tokens \(a)"))
        }
        let w = try wrongId.map { [$0] } ?? tokenizer.encodePiece(wrong)
        guard w.count == 1 else {
            return .failure(Failure(reason: .wrongNotSingleToken, detail: "wrong \(wrong.debugDescription) is \(w.count) tokens \(w)"))
        }
        guard a[0] != w[0] else {
            return .failure(Failure(reason: .answerEqualsWrong, detail: "answer and wrong are both token \(a[0]) (\(answer.debugDescription))"))
        }
        return .success(PromptPair(clean: clean, corrupt: corrupt, answer: answer, wrong: wrong, cleanTokens: c, corruptTokens: k,
                                   answerId: a[0], wrongId: w[0]))
    }

    private static func drop(_ report: inout DatasetReport, _ reason: DropReason, _ detail: String) {
        report.dropped[reason, default: 0] += 1
        if report.examples[reason] == nil { report.examples[reason] = detail }
    }

    /// One candidate: a template, then the slots in name order; slots sharing a list get different
    /// values (a partial Fisher–Yates shuffle of that list's indices).
    static func draw(_ spec: PairTemplateSpec, _ random: inout PortableRandom) throws -> (String, String, String, String, Int) {
        let index = random.below(spec.templates.count)
        let template = spec.templates[index]
        var fill: [String: String] = [:]
        var remaining: [String: [Int]] = [:]  // list key -> indices not yet used in this pair
        for slot in spec.slotsUsed(by: template) {
            let (key, values) = try spec.source(of: slot)
            var pool = remaining[key] ?? Array(values.indices)
            let j = random.below(pool.count)
            pool.swapAt(j, pool.count - 1)
            let pick = pool.removeLast()
            remaining[key] = pool
            fill[slot] = values[pick]
        }
        var corruptFill = fill
        for pair in spec.swap where pair.count == 2 {
            corruptFill[pair[0]] = fill[pair[1]]
            corruptFill[pair[1]] = fill[pair[0]]
        }
        let clean = PairTemplateSpec.fill(template.clean, fill)
        let corrupt = PairTemplateSpec.fill(template.corrupt ?? template.clean, corruptFill)
        return (clean, corrupt, PairTemplateSpec.fill(spec.answer, fill), PairTemplateSpec.fill(spec.wrong, fill), index)
    }
}
