import ArgumentParser
import Foundation
import Mechanic
import MechanicAnalysis
import MechanicIO

/// A diff shard's payload: the command line to re-parse and the shard's summed vectors.
struct DiffShardPayload: Codable {
    /// `--model` as the shard loaded it (the merge loads it again: unembedding needs `W_U`).
    var model: String
    var arguments: [String]
    var sums: DiffSums
}

extension DiffCommand {
    /// Options that decide nothing about the result (output, progress, the shard) or name the
    /// model (checked by its identity). Flags take no value.
    static let unmergedOptions: Set<String> = ["--shard", "--shard-count", "--out", "--html", "--model", "--streaming"]
    static let unmergedFlags: Set<String> = ["--shard-from-env", "--json", "--quiet", "--no-weight-cache"]

    static func inputsHash(_ a: [[Int]], _ b: [[Int]]) -> String {
        var hash = InputsHash()
        hash.add(a.count)
        for p in a { hash.add(p) }
        hash.add(b.count)
        for p in b { hash.add(p) }
        return hash.hex
    }

    /// Writes the shard's partial result (its prompts' summed vectors) to `--out`.
    func writePartial(_ sums: DiffSums, shard: Shard, model m: HookedTransformer, a: [[Int]], b: [[Int]]) throws -> CommandResult {
        guard let out = sharding.out else { throw ValidationError("a shard writes a partial result: give --out PART") }
        let arguments = ShardArguments.kept(after: "diff", dropping: Self.unmergedOptions, flags: Self.unmergedFlags)
        let items = a.count + b.count
        let manifest = ShardManifest(command: "diff", model: ShardManifest.modelIdentity(m), options: ShardArguments.optionMap(arguments),
                                     inputsHash: Self.inputsHash(a, b), shard: shard, items: items, itemsInShard: shard.range(of: items).count)
        let payload = try PartialFile.encodePayload(DiffShardPayload(model: m.source, arguments: arguments, sums: sums))
        let output = try OutputFile(out, option: "--out")
        try PartialFile(manifest: manifest, payload: payload, arrays: [:]).write(to: output)
        let written = ShardWritten(shard: shard.description, out: output.path, items: manifest.itemsInShard, totalItems: items)
        if !json { warn(written.sentence) }
        return CommandResult(written)
    }

    /// The diff of the merged sums, printed as one unsharded `diff` run prints it. Loads the
    /// model (the unembedding needs it) and refuses one whose identity differs from the shards'.
    static func merge(_ parts: [PartialFile], json: Bool, html: String?) throws -> CommandResult {
        let payloads = try parts.map { try $0.decodePayload(DiffShardPayload.self) }
        guard let first = payloads.first, let manifest = parts.first?.manifest else { throw ShardError.badSpec("give the partial files to merge") }
        var command = try DiffCommand.parse(["--model", first.model] + first.arguments)
        command.json = json
        command.html.html = html
        let m = try command.model.load()
        let identity = ShardManifest.modelIdentity(m)
        guard identity == manifest.model else {
            throw ShardError.mismatch(file: first.model, other: parts[0].path, field: "models", value: identity, otherValue: manifest.model)
        }
        let (a, b, texts) = try command.sides(m)
        guard inputsHash(a, b) == manifest.inputsHash else {
            throw ShardError.unsupported("the prompts of \(parts[0].path)'s command no longer tokenize as its shards' did (the tokenizer changed?)")
        }
        return try command.emit(model: m, a: a, b: b, texts: texts, sums: try DiffSums.merged(payloads.map(\.sums)), progress: nil)
    }
}
