import Foundation
import MechanicTensor

/// Writes safetensors files: float tensors as F32 (or narrowed to F16/BF16), integers as I64.
public struct SafeTensorsWriter {
    public enum Payload {
        case float(Tensor, DType)
        case int64(shape: [Int], values: [Int])
    }

    private var entries: [(String, Payload)] = []
    public var metadata: [String: String] = [:]

    public init() {}

    public mutating func add(_ name: String, _ tensor: Tensor, as dtype: DType = .f32) {
        entries.append((name, .float(tensor, dtype)))
    }

    public mutating func add(_ name: String, int64 values: [Int], shape: [Int]? = nil) {
        entries.append((name, .int64(shape: shape ?? [values.count], values: values)))
    }

    /// Writes the file, streaming tensor bytes (no whole-file buffer), then renames it into place.
    public func write(to url: URL) throws {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        for (name, payload) in entries {
            let (dtype, shape, bytes): (String, [Int], Int)
            switch payload {
            case let .float(t, d): (dtype, shape, bytes) = (d.rawValue, t.shape, t.count * d.byteSize)
            case let .int64(s, v): (dtype, shape, bytes) = ("I64", s, v.count * 8)
            }
            header[name] = ["dtype": dtype, "shape": shape, "data_offsets": [offset, offset + bytes]]
            offset += bytes
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }  // pad with spaces to 8-byte alignment
        let tmp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).partial")
        _ = FileManager.default.createFile(atPath: tmp.path, contents: nil)
        guard let handle = FileHandle(forWritingAtPath: tmp.path) else {
            throw SafeTensorsError.cannotOpen(file: url.path, reason: "cannot create the file")
        }
        var lengthLE = UInt64(json.count).littleEndian
        handle.write(Data(bytes: &lengthLE, count: 8))
        handle.write(json)
        for (_, payload) in entries {
            switch payload {
            case let .float(t, .f32):
                t.data.withUnsafeBytes { handle.write(Data($0)) }
            case let .float(t, d):
                let narrow: [UInt16] = t.data.map { d == .bf16 ? bf16FromFloat($0) : f16FromFloat($0) }
                narrow.withUnsafeBytes { handle.write(Data($0)) }
            case let .int64(_, v):
                let wide = v.map { Int64($0).littleEndian }
                wide.withUnsafeBytes { handle.write(Data($0)) }
            }
        }
        try handle.close()
        if FileManager.default.fileExists(atPath: url.path) { try FileManager.default.removeItem(at: url) }
        try FileManager.default.moveItem(at: tmp, to: url)
    }
}
