import ArgumentParser
import Foundation
import Mechanic
import MechanicAnalysis
import MechanicIO

/// What `mechanic merge` needs to print a merged patching result as `patch` prints one: the
/// report header and the first pair's tokens (model-derived, so the merge loads no model).
struct PatchRenderContext: Codable {
    /// Report header lines, `[key, value]`.
    var meta: [[String]]
    var cleanPieces: [String]?
    var corruptPieces: [String]?
    /// The first clean prompt's tokens as the text table labels positions.
    var tablePieces: [String]
    var pairs: Int
    var senders: [String]?
    var receivers: [String]?
}

/// A patch shard's payload: the command line to re-parse, the render context, the partial.
struct PatchShardPayload: Codable {
    /// `--model` as the shard loaded it (the merge re-parses the command; it loads no model).
    var model: String
    var arguments: [String]
    var context: PatchRenderContext
    /// An activation/path patching sweep's partial, or an attribution's (`--attribution`).
    var partial: PatchingPartial?
    var attribution: AttributionPartial?
}

extension PatchCommand {
    /// Options that decide nothing about the result (where output goes, progress, the shard
    /// itself) or name files whose contents are checked otherwise (the model by its identity,
    /// the dataset by the inputs hash). Flags take no value.
    static let unmergedOptions: Set<String> = ["--shard", "--shard-count", "--out", "--html", "--model", "--tokenizer", "--streaming"]
    static let unmergedFlags: Set<String> = ["--shard-from-env", "--json", "--quiet", "--no-weight-cache"]

    /// This process's `patch` arguments without the unmerged options: what the merge re-parses.
    static func mergeArguments(_ all: [String] = CommandLine.arguments) -> [String] {
        ShardArguments.kept(after: "patch", dropping: unmergedOptions, flags: unmergedFlags, all)
    }

    /// The merge-relevant options by name, for the manifest (`--dataset` is a path: its contents
    /// are in the inputs hash, so shards may read it from different places).
    static func optionMap(_ args: [String]) -> [String: String] {
        var map = ShardArguments.optionMap(args)
        map["dataset"] = nil
        return map
    }

    /// Writes the shard's partial result to `--out` and returns what was written.
    func writePartial(_ partial: PatchingPartial?, attribution: AttributionPartial? = nil, shard: Shard, context: PatchRenderContext,
                      model m: HookedTransformer, pairs: [PatchingPair]) throws -> CommandResult {
        guard let out = sharding.out else { throw ValidationError("a shard writes a partial result: give --out PART") }
        var hash = InputsHash()
        for p in pairs { hash.add(p.clean); hash.add(p.corrupt); hash.add(p.answer); hash.add(p.wrong) }
        let arguments = Self.mergeArguments()
        let manifest = ShardManifest(command: "patch", model: ShardManifest.modelIdentity(m), options: Self.optionMap(arguments),
                                     inputsHash: hash.hex, shard: shard, items: pairs.count, itemsInShard: shard.range(of: pairs.count).count)
        let payload = try PartialFile.encodePayload(PatchShardPayload(model: m.source, arguments: arguments, context: context,
                                                                      partial: partial, attribution: attribution))
        let arrays = attribution.map { ["estimates": $0.estimates] } ?? ["sums": partial?.sums ?? []]
        let file = PartialFile(manifest: manifest, payload: payload, arrays: arrays)
        let output = try OutputFile(out, option: "--out", inputs: [dataset].compactMap { $0 })
        try file.write(to: output)
        let written = ShardWritten(shard: shard.description, out: output.path, items: manifest.itemsInShard, totalItems: pairs.count)
        if !json { warn(written.sentence) }
        return CommandResult(written)
    }

    /// The merged result of patch partials, printed as one unsharded `patch` run would print it.
    static func merge(_ parts: [PartialFile], json: Bool, html: String?) throws -> CommandResult {
        var payloads: [PatchShardPayload] = []
        for p in parts {
            var payload = try p.decodePayload(PatchShardPayload.self)
            payload.partial?.sums = p.arrays["sums"] ?? []
            payload.attribution?.estimates = p.arrays["estimates"] ?? []
            guard (payload.partial == nil) != (payload.attribution == nil) else {
                throw ShardError.notAPartial(file: p.path, reason: "its patch payload holds neither a sweep nor an attribution")
            }
            payloads.append(payload)
        }
        guard let first = payloads.first else { throw ShardError.badSpec("give the partial files to merge") }
        var command = try PatchCommand.parse(["--model", first.model] + first.arguments)
        command.json = json
        command.report.html = html
        let attributions = payloads.compactMap(\.attribution)
        if !attributions.isEmpty {
            guard attributions.count == payloads.count else {
                throw ShardError.unsupported("some partials are of attribution patching and some are not; merge the shards of one run")
            }
            return try command.emitAttribution(try AttributionPartial.merge(attributions), first.context)
        }
        return try command.emit(try PatchingPartial.merge(payloads.compactMap(\.partial)), first.context)
    }
}
