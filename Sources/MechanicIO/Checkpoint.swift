import Foundation
import MechanicTensor

/// The weights of one model directory: a single `model.safetensors`, or the shards named by
/// `model.safetensors.index.json`. Tensors are looked up by their checkpoint names.
public final class Checkpoint: @unchecked Sendable {
    public let directory: URL
    /// Tensor name → the mapped file that holds it.
    private var location: [String: SafeTensorsFile] = [:]

    public init(directory: URL) throws {
        self.directory = directory
        let fm = FileManager.default
        let single = directory.appendingPathComponent("model.safetensors")
        let index = directory.appendingPathComponent("model.safetensors.index.json")
        if fm.fileExists(atPath: index.path) {
            let data = try Data(contentsOf: index)
            guard let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let map = obj["weight_map"] as? [String: String] else {
                throw SafeTensorsError.badIndex(file: index.path, reason: "no \"weight_map\" object mapping tensor names to shard files")
            }
            var shards: [String: SafeTensorsFile] = [:]
            for (tensor, shardName) in map.sorted(by: { $0.key < $1.key }) {
                let shard: SafeTensorsFile
                if let s = shards[shardName] {
                    shard = s
                } else {
                    let url = directory.appendingPathComponent(shardName)
                    guard fm.fileExists(atPath: url.path) else {
                        throw SafeTensorsError.badIndex(file: index.path, reason: "shard \(shardName) (holding '\(tensor)') is missing")
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
            let file = try SafeTensorsFile(url: single)
            for name in file.tensors.keys { location[name] = file }
        } else {
            throw SafeTensorsError.cannotOpen(
                file: directory.path,
                reason: "no model.safetensors or model.safetensors.index.json in this directory (PyTorch .bin checkpoints are not read; convert them to safetensors)")
        }
    }

    public var names: [String] { location.keys.sorted() }

    public func contains(_ name: String) -> Bool { location[name] != nil }

    /// The file holding `name` and its header entry.
    public func entry(_ name: String) throws -> (file: SafeTensorsFile, info: TensorInfo) {
        guard let file = location[name], let info = file.tensors[name] else {
            throw SafeTensorsError.missingTensor(file: directory.path, tensor: name)
        }
        return (file, info)
    }

    /// The tensor widened to float32, checked against the shape the config implies.
    public func tensor(_ name: String, shape expected: [Int]? = nil) throws -> Tensor {
        let (file, info) = try entry(name)
        if let expected, expected != info.shape {
            throw SafeTensorsError.wrongShape(file: file.url.path, tensor: name, expected: expected, found: info.shape)
        }
        return try file.tensor(name)
    }
}
