import ArgumentParser
import Foundation
import Mechanic
import MechanicAnalysis
import MechanicIO

/// A circuit shard's payload: the command line to re-parse, the report header, the partial.
struct CircuitShardPayload: Codable {
    /// `--model` as the shard loaded it (the merge re-parses the command; it loads no model).
    var model: String
    var arguments: [String]
    /// Report header lines, `[key, value]`.
    var meta: [[String]]
    var partial: CircuitPartial
}

extension CircuitCommand {
    /// This process's `circuit` arguments without the options that decide nothing about the
    /// result (output, progress, the shard itself; see `PatchCommand.unmergedOptions`).
    static func mergeArguments(_ all: [String] = CommandLine.arguments) -> [String] {
        guard let i = all.firstIndex(of: "circuit") else { return [] }
        var out: [String] = []
        var rest = all[(i + 1)...].makeIterator()
        while let a = rest.next() {
            let name = a.split(separator: "=", maxSplits: 1).first.map(String.init) ?? a
            if PatchCommand.unmergedFlags.contains(name) { continue }
            if PatchCommand.unmergedOptions.contains(name) {
                if !a.contains("=") { _ = rest.next() }
                continue
            }
            out.append(a)
        }
        return out
    }

    /// Writes the shard's partial result to `--out` and returns what was written.
    func writePartial(_ partial: CircuitPartial, shard: Shard, meta: [(key: String, value: String)], model m: HookedTransformer,
                      pairs: [PatchingPair]) throws -> ShardWritten {
        guard let out = sharding.out else { throw ValidationError("a shard writes a partial result: give --out PART") }
        var hash = InputsHash()
        for p in pairs { hash.add(p.clean); hash.add(p.corrupt); hash.add(p.answer); hash.add(p.wrong) }
        let arguments = Self.mergeArguments()
        let manifest = ShardManifest(command: "circuit", model: ShardManifest.modelIdentity(m), options: PatchCommand.optionMap(arguments),
                                     inputsHash: hash.hex, shard: shard, items: pairs.count, itemsInShard: partial.pairsInShard)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let payload = try encoder.encode(CircuitShardPayload(model: m.source, arguments: arguments, meta: meta.map { [$0.key, $0.value] },
                                                             partial: partial))
        let file = PartialFile(manifest: manifest, payload: payload, arrays: ["scores": partial.scores])
        let output = try OutputFile(out, option: "--out", inputs: [dataset].compactMap { $0 })
        try file.write(to: output)
        return ShardWritten(shard: shard.description, out: output.path, items: partial.pairsInShard, totalItems: pairs.count)
    }

    /// The merged result of circuit partials, printed as one unsharded `circuit` run prints it.
    static func merge(_ parts: [PartialFile], json: Bool, html: String?) throws -> CommandResult {
        var payloads: [CircuitShardPayload] = []
        for p in parts {
            var payload = try p.decodePayload(CircuitShardPayload.self)
            guard let scores = p.arrays["scores"] else { throw ShardError.notAPartial(file: p.path, reason: "it holds no scores array") }
            payload.partial.scores = scores
            payloads.append(payload)
        }
        guard let first = payloads.first else { throw ShardError.badSpec("give the partial files to merge") }
        let result = try CircuitDiscovery.merge(payloads.map(\.partial))
        var command = try CircuitCommand.parse(["--model", first.model] + first.arguments)
        command.json = json
        command.report.html = html
        return try command.emit(result, meta: first.meta.map { (key: $0.first ?? "", value: $0.last ?? "") })
    }
}
