import ArgumentParser
import Foundation
import Mechanic
import MechanicAnalysis
import MechanicIO

/// A neurons shard's payload: what `mechanic merge` needs to print the merged search as
/// `neurons` prints one (the report header is model-derived, so the merge loads no model).
struct NeuronsShardPayload: Codable {
    /// Report header lines, `[key, value]`.
    var meta: [[String]]
    var top: Int
    /// The shard's search: its chunks' top examples and statistics, the corpus's counts.
    var result: NeuronSearchResult
}

extension NeuronsCommand {
    /// Options that decide nothing about the result (output, progress, the shard) or name files
    /// whose contents are checked otherwise (the model by its identity, the corpus by the inputs
    /// hash). Flags take no value.
    static let unmergedOptions: Set<String> = ["--shard", "--shard-count", "--out", "--html", "--model", "--tokenizer", "--streaming", "--corpus"]
    static let unmergedFlags: Set<String> = ["--shard-from-env", "--json", "--no-progress", "--no-weight-cache"]

    /// Writes the shard's partial result to `--out` and returns what was written.
    func writePartial(_ result: NeuronSearchResult, shard: Shard, meta: [(key: String, value: String)],
                      model m: HookedTransformer) throws -> CommandResult {
        guard let out = sharding.out else { throw ValidationError("a shard writes a partial result: give --out PART") }
        let arguments = ShardArguments.kept(after: "neurons", dropping: Self.unmergedOptions, flags: Self.unmergedFlags)
        // Items: the forward batches of `--batch` chunks, dealt round-robin (`NeuronSearchOptions.shard`).
        let batches = result.chunks / batch + (result.chunks % batch == 0 ? 0 : 1)
        let manifest = ShardManifest(command: "neurons", model: ShardManifest.modelIdentity(m), options: ShardArguments.optionMap(arguments),
                                     inputsHash: result.inputsHash, shard: shard, items: batches,
                                     itemsInShard: shard.roundRobinCount(of: batches), split: .roundRobin)
        let payload = try PartialFile.encodePayload(NeuronsShardPayload(meta: meta.map { [$0.key, $0.value] }, top: top, result: result))
        let output = try OutputFile(out, option: "--out", inputs: [corpus])
        try PartialFile(manifest: manifest, payload: payload, arrays: [:]).write(to: output)
        let written = ShardWritten(shard: shard.description, out: output.path, items: manifest.itemsInShard, totalItems: batches)
        if !json { warn(written.sentence) }
        return CommandResult(written)
    }

    /// The merged search of neurons partials, printed as one unsharded `neurons` run prints it.
    static func merge(_ parts: [PartialFile], json: Bool, html: String?) throws -> CommandResult {
        let payloads = try parts.map { try $0.decodePayload(NeuronsShardPayload.self) }
        guard let first = payloads.first else { throw ShardError.badSpec("give the partial files to merge") }
        let result = try NeuronSearchResult.merge(payloads.map(\.result), topK: first.top)
        var report = HTMLReportOption()
        report.html = html
        return try emit(result, meta: first.meta.map { (key: $0.first ?? "", value: $0.last ?? "") }, json: json, report: report)
    }
}
