import Foundation
import MechanicTensor

/// The weights of one model directory: a single `model.safetensors`, or the shards named by
/// `model.safetensors.index.json`. Tensors are looked up by their checkpoint names.
public final class Checkpoint: @unchecked Sendable {
    public let directory: URL
    /// Tensor name → the mapped file that holds it.
    private var location: [String: SafeTensorsFile] = [:]
    /// The file a missing tensor is reported against: `model.safetensors` or the index.
    private let source: String

    public init(directory: URL) throws {
        self.directory = directory
        let fm = FileManager.default
        let single = directory.appendingPathComponent("model.safetensors")
        let index = directory.appendingPathComponent("model.safetensors.index.json")
        if fm.fileExists(atPath: index.path) {
            source = index.path
            let map = try Checkpoint.weightMap(index)
            var shards: [String: SafeTensorsFile] = [:]
            for (tensor, shardName) in map.sorted(by: { $0.key < $1.key }) {
                let shard: SafeTensorsFile
                if let s = shards[shardName] {
                    shard = s
                } else {
                    let url = directory.appendingPathComponent(shardName)
                    guard fm.fileExists(atPath: url.path) else {
                        throw SafeTensorsError.badIndex(file: index.path, reason: "shard \(shardName) (holding '\(tensor)') is missing from \(directory.path)")
                    }
                    shard = try SafeTensorsFile(url: url)
                    shards[shardName] = shard
                }
                guard shard.tensors[tensor] != nil else {
                    throw SafeTensorsError.missingTensor(file: shard.url.path, tensor: tensor)
                }
                location[tensor] = shard
            }
        } else if fm.fileExists(atPath: single.path) {
            source = single.path
            let file = try SafeTensorsFile(url: single)
            for name in file.tensors.keys { location[name] = file }
        } else {
            let hasBin = fm.fileExists(atPath: directory.appendingPathComponent("pytorch_model.bin").path)
                || fm.fileExists(atPath: directory.appendingPathComponent("pytorch_model.bin.index.json").path)
            throw SafeTensorsError.cannotOpen(
                file: directory.path,
                reason: "no model.safetensors or model.safetensors.index.json in this directory"
                    + (hasBin ? " (it holds PyTorch .bin weights, which Mechanic does not read; convert them to safetensors)" : ""))
        }
    }

    /// The `weight_map` of a shard index: tensor name → shard file name (a plain file name in
    /// the same directory; absolute paths and `..` are refused).
    public static func weightMap(_ index: URL) throws -> [String: String] {
        let data = try InputFile.read(index.path, what: "a safetensors shard index", limit: InputFile.configLimit)
        let root: JSONValue
        do { root = try JSONValue.parse(data) } catch {
            throw SafeTensorsError.badIndex(file: index.path, reason: "the shard index is not JSON (\(error))")
        }
        guard let mapValue = root.objectValue?["weight_map"]?.objectValue else {
            throw SafeTensorsError.badIndex(file: index.path, reason: "no \"weight_map\" object mapping tensor names to shard files")
        }
        var map: [String: String] = [:]
        for (tensor, value) in mapValue {
            guard let shard = value.stringValue, !shard.isEmpty, !shard.hasPrefix("/"),
                  !shard.split(separator: "/").contains("..") else {
                throw SafeTensorsError.badIndex(file: index.path, reason: "weight_map entry '\(tensor)' names \(value.brief), not a shard file in this directory")
            }
            map[tensor] = shard
        }
        return map
    }

    public var names: [String] { location.keys.sorted() }

    public func contains(_ name: String) -> Bool { location[name] != nil }

    /// The file holding `name` and its header entry.
    public func entry(_ name: String) throws -> (file: SafeTensorsFile, info: TensorInfo) {
        guard let file = location[name], let info = file.tensors[name] else {
            throw SafeTensorsError.missingTensor(file: source, tensor: name)
        }
        return (file, info)
    }

    /// Starts reading a tensor's pages from disk ahead of use.
    public func prefetch(_ name: String) {
        if let (file, info) = try? entry(name) { file.prefetch(info) }
    }

    /// Drops a tensor's mapped pages from this process's resident memory (after it was widened).
    public func release(_ name: String) {
        if let (file, info) = try? entry(name) { file.release(info) }
    }

    /// The tensor widened to float32, checked against the shape the config implies.
    /// `byReading`: use `pread` rather than the mapping (see `SafeTensorsFile.tensorByReading`).
    public func tensor(_ name: String, shape expected: [Int]? = nil, byReading: Bool = false) throws -> Tensor {
        let (file, info) = try entry(name)
        if let expected, expected != info.shape {
            throw SafeTensorsError.wrongShape(file: file.url.path, tensor: name, expected: expected, found: info.shape)
        }
        guard info.dtype.floatType != nil else {
            throw SafeTensorsError.integerWeight(file: file.url.path, tensor: name, dtype: info.dtype.rawValue)
        }
                return try byReading ? file.tensorByReading(name) : file.tensor(name)
    }
}
