import Foundation
import MechanicIO
import MechanicTensor

/// One shard's partial result on disk: a safetensors file whose float64 tensors hold the
/// shard's sums and whose `__metadata__` holds two JSON documents — `mechanic.manifest` (a
/// `ShardManifest`) and `mechanic.payload` (the command's own partial, e.g. `PatchingPartial`).
/// Any safetensors reader opens it; `mechanic merge` reads several and combines them.
public struct PartialFile: Sendable {
    static let manifestKey = "mechanic.manifest"
    static let payloadKey = "mechanic.payload"

    public var manifest: ShardManifest
    /// The command's partial, JSON.
    public var payload: Data
    /// Named float64 arrays (sums over the shard's items).
    public var arrays: [String: [Double]]
    /// Where it was read from (empty for one not yet written).
    public var path: String = ""

    public init(manifest: ShardManifest, payload: Data, arrays: [String: [Double]]) {
        self.manifest = manifest
        self.payload = payload
        self.arrays = arrays
    }

    /// Writes the file atomically (see `OutputFile`).
    public func write(to output: OutputFile) throws {
        var w = SafeTensorsWriter()
        for name in arrays.keys.sorted() { w.add(name, float64: arrays[name] ?? []) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = Self.nonFinite
        w.metadata[Self.manifestKey] = String(decoding: try encoder.encode(manifest), as: UTF8.self)
        w.metadata[Self.payloadKey] = String(decoding: payload, as: UTF8.self)
        try w.write(to: output)
    }

    /// Reads and checks a partial file: a safetensors file with a manifest of the current format.
    public static func read(_ path: String) throws -> PartialFile {
        InputFiles.record(path)  // an output of this run may not replace it
        let file: SafeTensorsFile
        do {
            file = try SafeTensorsFile(url: URL(fileURLWithPath: path))
        } catch {
            throw ShardError.notAPartial(file: path, reason: "\(error)")
        }
        guard let manifestText = file.metadata[manifestKey], let payloadText = file.metadata[payloadKey] else {
            throw ShardError.notAPartial(file: path, reason: "its safetensors metadata has no \(manifestKey) and \(payloadKey)")
        }
        let manifest: ShardManifest
        do {
            manifest = try JSONDecoder().decode(ShardManifest.self, from: Data(manifestText.utf8))
        } catch {
            throw ShardError.notAPartial(file: path, reason: "its manifest is not readable (\(error))")
        }
        guard manifest.format == ShardManifest.currentFormat else {
            throw ShardError.notAPartial(file: path, reason: "its format is \(manifest.format), this program reads \(ShardManifest.currentFormat)")
        }
        guard (0..<manifest.shard.count).contains(manifest.shard.index), manifest.items >= 0,
              manifest.itemsInShard == manifest.expectedItemsInShard else {
            throw ShardError.notAPartial(file: path, reason: "its manifest says shard \(manifest.shard) holds \(manifest.itemsInShard) of \(manifest.items) items, which is not that shard's share")
        }
        var arrays: [String: [Double]] = [:]
        for name in file.names { arrays[name] = try file.doubles(name) }
        var p = PartialFile(manifest: manifest, payload: Data(payloadText.utf8), arrays: arrays)
        p.path = path
        return p
    }

    /// How payloads write infinities and NaN (an empty shard's minimum is +∞).
    static var nonFinite: JSONEncoder.NonConformingFloatEncodingStrategy { .convertToString(
        positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan") }

    /// `value` as a payload: JSON, sorted keys, infinities and NaN as strings.
    public static func encodePayload<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = nonFinite
        return try encoder.encode(value)
    }

    /// The payload decoded as `T`.
    public func decodePayload<T: Decodable>(_ type: T.Type) throws -> T {
        do {
            let decoder = JSONDecoder()
            decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            return try decoder.decode(T.self, from: payload)
        } catch {
            throw ShardError.notAPartial(file: path, reason: "its \(manifest.command) payload is not readable (\(error))")
        }
    }
}

/// Checks that partial files belong to one run and together hold every shard exactly once.
public enum ShardMerge {
    /// The partials sorted by shard index; throws on a partial of another run (naming the field
    /// that differs), a shard given twice, or missing shards.
    public static func check(_ parts: [PartialFile]) throws -> [PartialFile] {
        guard let first = parts.first else { throw ShardError.badSpec("give the partial files to merge") }
        let a = first.manifest
        for p in parts.dropFirst() {
            let b = p.manifest
            func differ(_ field: String, _ x: String, _ y: String) throws {
                if x != y { throw ShardError.mismatch(file: p.path, other: first.path, field: field, value: y, otherValue: x) }
            }
            guard a.command == b.command else {
                throw ShardError.unsupported("\(p.path) is a partial of `\(b.command)` and \(first.path) one of `\(a.command)`; merge the partials of one command at a time")
            }
            try differ("models", a.model, b.model)
            try differ("inputs (hash)", a.inputsHash, b.inputsHash)
            try differ("item counts", String(a.items), String(b.items))
            try differ("shard counts", String(a.shard.count), String(b.shard.count))
            for key in Set(a.options.keys).union(b.options.keys).sorted() {
                try differ("--\(key) options", a.options[key] ?? "(unset)", b.options[key] ?? "(unset)")
            }
        }
        var byIndex: [Int: PartialFile] = [:]
        for p in parts {
            if let seen = byIndex[p.manifest.shard.index] { throw ShardError.duplicateShard(p.manifest.shard.index, files: [seen.path, p.path]) }
            byIndex[p.manifest.shard.index] = p
        }
        let missing = (0..<a.shard.count).filter { byIndex[$0] == nil }
        guard missing.isEmpty else { throw ShardError.missingShards(missing, count: a.shard.count) }
        return (0..<a.shard.count).compactMap { byIndex[$0] }
    }
}
