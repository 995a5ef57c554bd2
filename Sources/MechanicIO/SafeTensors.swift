import Foundation
import MechanicTensor

/// Element types a safetensors file may store that Mechanic reads.
public enum StoredDType: String, Sendable {
    case f32 = "F32", f16 = "F16", bf16 = "BF16", i64 = "I64", i32 = "I32"

    public var byteSize: Int {
        switch self {
        case .f32, .i32: return 4
        case .f16, .bf16: return 2
        case .i64: return 8
        }
    }

    /// The float precision this dtype widens from, nil for integers.
    public var floatType: DType? {
        switch self {
        case .f32: return .f32
        case .f16: return .f16
        case .bf16: return .bf16
        case .i64, .i32: return nil
        }
    }
}

/// One tensor's header entry, with its absolute byte range in the file.
public struct TensorInfo: Sendable, Equatable {
    public let name: String
    public let dtype: StoredDType
    public let shape: [Int]
    public let byteOffset: Int
    public let byteCount: Int
    public var count: Int { shape.reduce(1, *) }
}

/// A memory-mapped safetensors file with a fully validated header: the length, the JSON, each
/// entry's dtype and shape against its byte range, every range inside the data section, and no
/// two ranges overlapping. Tensor data is read straight from the mapping.
public final class SafeTensorsFile: @unchecked Sendable {
    public let url: URL
    public let tensors: [String: TensorInfo]
    public let metadata: [String: String]
    let file: MappedFile

    public init(url: URL) throws {
        self.url = url
        let path = url.path
        file = try MappedFile(url: url)
        guard file.size >= 8 else { throw SafeTensorsError.truncatedHeader(file: path, size: file.size) }
        let headerLength = file.base.loadUnaligned(as: UInt64.self).littleEndian
        guard headerLength <= UInt64(file.size - 8) else {
            throw SafeTensorsError.headerLengthPastEnd(file: path, headerLength: headerLength, fileSize: file.size)
        }
        let n = Int(headerLength)
        let headerData = Data(bytes: file.base + 8, count: n)
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: headerData)
        } catch {
            throw SafeTensorsError.headerNotJSON(file: path, reason: "\(n) header bytes do not parse")
        }
        guard let dict = object as? [String: Any] else {
            throw SafeTensorsError.headerNotJSON(file: path, reason: "the top level is not an object")
        }
        let dataStart = 8 + n
        let dataSize = file.size - dataStart
        var infos: [String: TensorInfo] = [:]
        var meta: [String: String] = [:]
        for (name, value) in dict {
            if name == "__metadata__" {
                if let m = value as? [String: Any] {
                    for (k, v) in m { meta[k] = v as? String ?? "\(v)" }
                }
                continue
            }
            guard let entry = value as? [String: Any] else {
                throw SafeTensorsError.badEntry(file: path, tensor: name, reason: "not an object")
            }
            guard let dtypeName = entry["dtype"] as? String else {
                throw SafeTensorsError.badEntry(file: path, tensor: name, reason: "no dtype")
            }
            guard let dtype = StoredDType(rawValue: dtypeName) else {
                throw SafeTensorsError.unknownDType(file: path, tensor: name, dtype: dtypeName)
            }
            guard let shapeAny = entry["shape"] as? [Any],
                  let shape = SafeTensorsFile.ints(shapeAny), shape.allSatisfy({ $0 >= 0 }) else {
                throw SafeTensorsError.badEntry(file: path, tensor: name, reason: "shape is not a list of non-negative integers")
            }
            guard let offsAny = entry["data_offsets"] as? [Any], let offs = SafeTensorsFile.ints(offsAny),
                  offs.count == 2, offs[0] >= 0, offs[1] >= offs[0] else {
                throw SafeTensorsError.badEntry(file: path, tensor: name, reason: "data_offsets is not [begin, end] with begin ≤ end")
            }
            let (elements, overflow) = shape.reduce((1, false)) { acc, d in
                let (p, o) = acc.0.multipliedReportingOverflow(by: d)
                return (p, acc.1 || o)
            }
            let byteCount = offs[1] - offs[0]
            if overflow || elements.multipliedReportingOverflow(by: dtype.byteSize).overflow
                || elements * dtype.byteSize != byteCount {
                throw SafeTensorsError.sizeMismatch(file: path, tensor: name, shape: shape, dtype: dtypeName, byteCount: byteCount)
            }
            guard offs[1] <= dataSize else {
                throw SafeTensorsError.offsetsOutOfRange(file: path, tensor: name, end: offs[1], dataSize: dataSize)
            }
            infos[name] = TensorInfo(name: name, dtype: dtype, shape: shape, byteOffset: dataStart + offs[0], byteCount: byteCount)
        }
        // Ranges must not overlap (empty tensors overlap nothing).
        let sorted = infos.values.filter { $0.byteCount > 0 }.sorted { $0.byteOffset < $1.byteOffset }
        for (a, b) in zip(sorted, sorted.dropFirst()) where a.byteOffset + a.byteCount > b.byteOffset {
            throw SafeTensorsError.overlapping(file: path, tensor: b.name, other: a.name)
        }
        tensors = infos
        metadata = meta
    }

    private static func ints(_ values: [Any]) -> [Int]? {
        var out: [Int] = []
        for v in values {
            if let n = v as? NSNumber, !(v is Bool), n.doubleValue == n.doubleValue.rounded(), let i = Int(exactly: n.doubleValue) {
                out.append(i)
            } else {
                return nil
            }
        }
        return out
    }

    public var names: [String] { tensors.keys.sorted() }

    public func info(_ name: String) throws -> TensorInfo {
        guard let i = tensors[name] else { throw SafeTensorsError.missingTensor(file: url.path, tensor: name) }
        return i
    }

    /// Pointer to a tensor's stored bytes inside the mapping (valid while `self` lives).
    public func rawBytes(_ info: TensorInfo) -> UnsafeRawPointer { file.base + info.byteOffset }

    /// The tensor widened to float32 (integers converted), in a new heap buffer.
    public func tensor(_ name: String) throws -> Tensor {
        let i = try info(name)
        let src = rawBytes(i)
        return Tensor(shape: i.shape) { out in
            guard let dst = out.baseAddress else { return }
            switch i.dtype {
            case .f32: widen(.f32, src, into: dst, count: i.count)
            case .f16: widen(.f16, src, into: dst, count: i.count)
            case .bf16: widen(.bf16, src, into: dst, count: i.count)
            case .i64: for k in 0..<i.count { dst[k] = Float(src.loadUnaligned(fromByteOffset: 8 * k, as: Int64.self)) }
            case .i32: for k in 0..<i.count { dst[k] = Float(src.loadUnaligned(fromByteOffset: 4 * k, as: Int32.self)) }
            }
        }
    }

    /// An integer tensor (I64/I32) as Swift integers, e.g. token ids.
    public func integers(_ name: String) throws -> [Int] {
        let i = try info(name)
        let src = rawBytes(i)
        switch i.dtype {
        case .i64: return (0..<i.count).map { Int(src.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self)) }
        case .i32: return (0..<i.count).map { Int(src.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self)) }
        default: return try tensor(name).data.map { Int($0) }
        }
    }
}
