import Foundation
import Testing
import MechanicIO
import MechanicTensor

@Suite struct CheckpointTests {
    /// Two shards and the index naming them, as `save_pretrained(max_shard_size=…)` writes.
    private func writeSharded(_ dir: URL, index: String? = nil) throws {
        var a = SafeTensorsWriter()
        a.add("wte.weight", Tensor(shape: [2, 3], data: [1, 2, 3, 4, 5, 6]))
        a.add("h.0.ln_1.weight", Tensor(shape: [3], data: [0.5, 0.25, 0.125]), as: .f16)
        try a.write(to: dir.appendingPathComponent("model-00001-of-00002.safetensors"))
        var b = SafeTensorsWriter()
        b.add("h.1.ln_1.weight", Tensor(shape: [3], data: [-1, -2, -3]), as: .bf16)
        try b.write(to: dir.appendingPathComponent("model-00002-of-00002.safetensors"))
        let json = index ?? """
        {"metadata": {"total_size": 42}, "weight_map": {
          "wte.weight": "model-00001-of-00002.safetensors",
          "h.0.ln_1.weight": "model-00001-of-00002.safetensors",
          "h.1.ln_1.weight": "model-00002-of-00002.safetensors"}}
        """
        try Data(json.utf8).write(to: dir.appendingPathComponent("model.safetensors.index.json"))
    }

    @Test func readsShardedCheckpointThroughIndex() throws {
        let dir = try makeTempDir()
        defer { cleanUp(dir) }
        try writeSharded(dir)
        let ckpt = try Checkpoint(directory: dir)
        #expect(ckpt.names == ["h.0.ln_1.weight", "h.1.ln_1.weight", "wte.weight"])
        #expect(try ckpt.tensor("wte.weight", shape: [2, 3]).data == [1, 2, 3, 4, 5, 6])
        #expect(try ckpt.tensor("h.0.ln_1.weight").data == [0.5, 0.25, 0.125])
        #expect(try ckpt.tensor("h.1.ln_1.weight").data == [-1, -2, -3])
        #expect(try ckpt.entry("h.1.ln_1.weight").file.url.lastPathComponent == "model-00002-of-00002.safetensors")
        #expect(try ckpt.entry("h.1.ln_1.weight").info.dtype == .bf16)
    }

    @Test func singleFileCheckpoint() throws {
        let dir = try makeTempDir()
        defer { cleanUp(dir) }
        var w = SafeTensorsWriter()
        w.add("a", Tensor(shape: [2, 2], data: [1, 2, 3, 4]))
        try w.write(to: dir.appendingPathComponent("model.safetensors"))
        let ckpt = try Checkpoint(directory: dir)
        #expect(ckpt.names == ["a"])
        #expect(ckpt.contains("a") && !ckpt.contains("b"))
        #expect(try ckpt.tensor("a", shape: [2, 2])[1, 0] == 3)
    }

    @Test func missingTensorNamesFileAndTensor() throws {
        let dir = try makeTempDir()
        defer { cleanUp(dir) }
        var w = SafeTensorsWriter()
        w.add("a", Tensor(shape: [1], data: [1]))
        let file = dir.appendingPathComponent("model.safetensors")
        try w.write(to: file)
        let ckpt = try Checkpoint(directory: dir)
        let e = caught(SafeTensorsError.self) { try ckpt.tensor("lm_head.weight") }
        #expect(e == .missingTensor(file: file.path, tensor: "lm_head.weight"))
        #expect(e?.description.contains("lm_head.weight") == true)
        #expect(e?.description.contains(file.path) == true)
    }

    @Test func wrongShapeNamesExpectedAndFound() throws {
        let dir = try makeTempDir()
        defer { cleanUp(dir) }
        try writeSharded(dir)
        let ckpt = try Checkpoint(directory: dir)
        let e = caught(SafeTensorsError.self) { try ckpt.tensor("wte.weight", shape: [3, 2]) }
        let shard = dir.appendingPathComponent("model-00001-of-00002.safetensors").path
        #expect(e == .wrongShape(file: shard, tensor: "wte.weight", expected: [3, 2], found: [2, 3]))
        #expect(e?.description.contains("[3, 2]") == true && e?.description.contains("[2, 3]") == true)
    }

    @Test func indexNamingAMissingShard() throws {
        let dir = try makeTempDir()
        defer { cleanUp(dir) }
        try writeSharded(dir)
        try FileManager.default.removeItem(at: dir.appendingPathComponent("model-00002-of-00002.safetensors"))
        let e = caught(SafeTensorsError.self) { try Checkpoint(directory: dir) }
        let index = dir.appendingPathComponent("model.safetensors.index.json").path
        guard case let .badIndex(file, reason)? = e else {
            Issue.record("expected badIndex, got \(String(describing: e))")
            return
        }
        #expect(file == index)
        #expect(reason.contains("model-00002-of-00002.safetensors"))
        #expect(reason.contains("h.1.ln_1.weight"))
    }

    @Test func indexNamingATensorTheShardLacks() throws {
        let dir = try makeTempDir()
        defer { cleanUp(dir) }
        try writeSharded(dir, index: #"{"weight_map": {"ghost": "model-00002-of-00002.safetensors"}}"#)
        let e = caught(SafeTensorsError.self) { try Checkpoint(directory: dir) }
        #expect(e == .missingTensor(file: dir.appendingPathComponent("model-00002-of-00002.safetensors").path, tensor: "ghost"))
    }

    @Test func malformedIndexes() throws {
        let bad = [
            "not json",
            #"{"metadata": {}}"#,
            #"{"weight_map": {"a": 3}}"#,
            #"{"weight_map": {"a": "../elsewhere.safetensors"}}"#,
            #"{"weight_map": {"a": "/etc/passwd"}}"#,
        ]
        for json in bad {
            let dir = try makeTempDir()
            defer { cleanUp(dir) }
            try writeSharded(dir, index: json)
            let e = caught(SafeTensorsError.self) { try Checkpoint(directory: dir) }
            guard case let .badIndex(file, _)? = e else {
                Issue.record("\(json): expected badIndex, got \(String(describing: e))")
                continue
            }
            #expect(file.hasSuffix("model.safetensors.index.json"))
        }
    }

    @Test func directoryWithoutSafetensorsMentionsBinWeights() throws {
        let dir = try makeTempDir()
        defer { cleanUp(dir) }
        try Data([0]).write(to: dir.appendingPathComponent("pytorch_model.bin"))
        let e = caught(SafeTensorsError.self) { try Checkpoint(directory: dir) }
        guard case let .cannotOpen(file, reason)? = e else {
            Issue.record("expected cannotOpen, got \(String(describing: e))")
            return
        }
        #expect(file == dir.path)
        #expect(reason.contains(".bin"))
    }
}
