#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import MechanicTensor

/// Element types a safetensors file may store that Mechanic reads.
public enum StoredDType: String, Sendable {
    case f32 = "F32", f16 = "F16", bf16 = "BF16", i64 = "I64", i32 = "I32", f64 = "F64"

    public var byteSize: Int {
        switch self {
        case .f32, .i32: return 4
        case .f16, .bf16: return 2
        case .i64, .f64: return 8
        }
    }

    /// The float precision this dtype widens from, nil for integers.
    public var floatType: DType? {
        switch self {
        case .f32: return .f32
        case .f16: return .f16
        case .bf16: return .bf16
        case .i64, .i32, .f64: return nil
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

    /// The largest header accepted (the reference implementation's limit, 100 MB).
    public static let maxHeaderLength = 100_000_000

    /// The most tensors one file may hold (real shards hold a few thousand); a header claiming
    /// more is refused before it is parsed.
    public static let maxTensorCount = 200_000

    /// How many times `"dtype"` occurs in the header bytes: an upper bound on its tensor count,
    /// found in one pass without parsing.
    static func countEntries(_ p: UnsafeRawPointer, _ n: Int) -> Int {
        let needle = Array("\"dtype\"".utf8)
        let bytes = p.assumingMemoryBound(to: UInt8.self)
        var count = 0
        var i = 0
        while i + needle.count <= n {
            if bytes[i] == 0x22, bytes[i + 1] == needle[1], bytes[i + 6] == 0x22,
               (2..<6).allSatisfy({ bytes[i + $0] == needle[$0] }) {
                count += 1
                i += needle.count
            } else {
                i += 1
            }
        }
        return count
    }

    public init(url: URL) throws {
        self.url = url
        let path = url.path
        file = try MappedFile(url: url)
        guard file.size >= 8 else { throw SafeTensorsError.truncatedHeader(file: path, size: file.size) }
        let headerLength = file.base.loadUnaligned(as: UInt64.self).littleEndian
        guard headerLength <= UInt64(file.size - 8) else {
            throw SafeTensorsError.headerLengthPastEnd(file: path, headerLength: headerLength, fileSize: file.size)
        }
        guard headerLength <= UInt64(SafeTensorsFile.maxHeaderLength) else {
            throw SafeTensorsError.headerTooLarge(file: path, headerLength: headerLength, limit: SafeTensorsFile.maxHeaderLength)
        }
        let n = Int(headerLength)
        let entries = SafeTensorsFile.countEntries(file.base + 8, n)
        guard entries <= SafeTensorsFile.maxTensorCount else {
            throw SafeTensorsError.tooManyTensors(file: path, count: entries, limit: SafeTensorsFile.maxTensorCount)
        }
        let headerData = Data(bytes: file.base + 8, count: n)
        let header: JSONValue
        do {
            header = try JSONValue.parse(headerData)
        } catch let e as JSONParseError {
            throw SafeTensorsError.headerNotJSON(file: path, reason: "\(n)-byte header, \(e)")
        }
        guard let dict = header.objectValue else {
            throw SafeTensorsError.headerNotJSON(file: path, reason: "the top level is \(header.brief), not an object")
        }
        let dataStart = 8 + n
        let dataSize = file.size - dataStart
        var infos: [String: TensorInfo] = [:]
        var meta: [String: String] = [:]
        for (name, value) in dict {
            if name == "__metadata__" {
                guard let object = value.objectValue else {
                    throw SafeTensorsError.badMetadata(file: path, reason: "it is \(value.brief), not an object")
                }
                for (k, v) in object {
                    guard let text = v.stringValue else {
                        throw SafeTensorsError.badMetadata(file: path, reason: "the value of \(ErrorText.quoted(k)) is \(v.brief), not a string")
                    }
                    meta[k] = text
                }
                continue
            }
            infos[name] = try SafeTensorsFile.entry(name, value, path: path, dataStart: dataStart, dataSize: dataSize)
        }
        // Ranges must not overlap (empty tensors overlap nothing). Sort by (offset, name) so the
        // error names the same pair on every run.
        let sorted = infos.values.filter { $0.byteCount > 0 }.sorted {
            ($0.byteOffset, $0.name) < ($1.byteOffset, $1.name)
        }
        for (a, b) in zip(sorted, sorted.dropFirst()) where a.byteOffset + a.byteCount > b.byteOffset {
            throw SafeTensorsError.overlapping(file: path, tensor: b.name, other: a.name)
        }
        // The tensors must cover the data section exactly, as in the reference implementation: a
        // gap or trailing bytes mean the header length or an offset is wrong (e.g. one byte short,
        // which would otherwise read every tensor shifted).
        var covered = dataStart
        for t in sorted {
            guard t.byteOffset == covered else {
                throw SafeTensorsError.gap(file: path, tensor: t.name, begin: t.byteOffset - dataStart, expected: covered - dataStart)
            }
            covered += t.byteCount
        }
        guard covered == file.size else {
            throw SafeTensorsError.trailingBytes(file: path, covered: covered - dataStart, dataSize: dataSize)
        }
        tensors = infos
        metadata = meta
    }

    /// Validates one header entry: dtype known, shape non-negative integers, offsets inside the
    /// data section and exactly `elements × dtype size` bytes long.
    private static func entry(_ name: String, _ value: JSONValue, path: String, dataStart: Int, dataSize: Int) throws -> TensorInfo {
        guard let entry = value.objectValue else {
            throw SafeTensorsError.badEntry(file: path, tensor: name, reason: "\(value.brief) is not an object")
        }
        guard let dtypeName = entry["dtype"]?.stringValue else {
            throw SafeTensorsError.badEntry(file: path, tensor: name, reason: "no \"dtype\" string")
        }
        guard let dtype = StoredDType(rawValue: dtypeName) else {
            throw SafeTensorsError.unknownDType(file: path, tensor: name, dtype: dtypeName)
        }
        guard let shapeValues = entry["shape"]?.arrayValue,
              case let shape = shapeValues.compactMap(\.intValue), shape.count == shapeValues.count,
              shape.allSatisfy({ $0 >= 0 }) else {
            throw SafeTensorsError.badEntry(file: path, tensor: name,
                reason: "shape \(entry["shape"]?.brief ?? "(absent)") is not a list of non-negative integers")
        }
        guard let offsetValues = entry["data_offsets"]?.arrayValue,
              case let offs = offsetValues.compactMap(\.intValue), offs.count == 2, offsetValues.count == 2,
              offs[0] >= 0, offs[1] >= offs[0] else {
            throw SafeTensorsError.badEntry(file: path, tensor: name,
                reason: "data_offsets \(entry["data_offsets"]?.brief ?? "(absent)") is not [begin, end] with 0 ≤ begin ≤ end")
        }
        var elements = 1
        var overflow = false
        for d in shape {
            let (p, o) = elements.multipliedReportingOverflow(by: d)
            elements = p
            overflow = overflow || o
        }
        let byteCount = offs[1] - offs[0]
        let (needed, o2) = elements.multipliedReportingOverflow(by: dtype.byteSize)
        if overflow || o2 || needed != byteCount {
            throw SafeTensorsError.sizeMismatch(file: path, tensor: name, shape: shape, dtype: dtypeName, byteCount: byteCount)
        }
        guard offs[1] <= dataSize else {
            throw SafeTensorsError.offsetsOutOfRange(file: path, tensor: name, end: offs[1], dataSize: dataSize)
        }
        return TensorInfo(name: name, dtype: dtype, shape: shape, byteOffset: dataStart + offs[0], byteCount: byteCount)
    }

    public var names: [String] { tensors.keys.sorted() }

    public func info(_ name: String) throws -> TensorInfo {
        guard let i = tensors[name] else { throw SafeTensorsError.missingTensor(file: url.path, tensor: name) }
        return i
    }

    /// Pointer to a tensor's stored bytes inside the mapping (valid while `self` lives).
    public func rawBytes(_ info: TensorInfo) -> UnsafeRawPointer { file.base + info.byteOffset }

    /// Drops a tensor's mapped pages from the resident set (see `MappedFile.release`).
    public func release(_ info: TensorInfo) { file.release(offset: info.byteOffset, count: info.byteCount) }

    /// Starts reading a tensor's pages ahead of use.
    public func prefetch(_ info: TensorInfo) { file.prefetch(offset: info.byteOffset, count: info.byteCount) }

    /// The tensor widened to float32 (integers converted), in a new heap buffer.
    public func tensor(_ name: String) throws -> Tensor {
        let i = try info(name)
        let src = rawBytes(i)
        return Tensor(shape: i.shape) { out in
            guard let dst = out.baseAddress else { return }
            switch i.dtype {
            case .f32: UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: i.byteCount)  // may be unaligned
            case .f16: widen(.f16, src, into: dst, count: i.count)
            case .bf16: widen(.bf16, src, into: dst, count: i.count)
            case .i64: for k in 0..<i.count { dst[k] = Float(src.loadUnaligned(fromByteOffset: 8 * k, as: Int64.self)) }
            case .i32: for k in 0..<i.count { dst[k] = Float(src.loadUnaligned(fromByteOffset: 4 * k, as: Int32.self)) }
            case .f64: for k in 0..<i.count { dst[k] = Float(src.loadUnaligned(fromByteOffset: 8 * k, as: Double.self)) }
            }
        }
    }

    /// The tensor widened to float32, read with `pread` instead of through the mapping: for data
    /// used once (streamed blocks of a large model), a copy from the page cache is far cheaper than
    /// faulting the mapping in page by page. Integers fall back to `tensor(_:)`.
    public func tensorByReading(_ name: String) throws -> Tensor {
        let i = try info(name)
        guard let floatType = i.dtype.floatType, i.byteCount > 0 else { return try tensor(name) }
        let fd = open(url.path, O_RDONLY)
        guard fd >= 0 else { throw SafeTensorsError.cannotOpen(file: url.path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        let raw = UnsafeMutableRawPointer.allocate(byteCount: i.byteCount, alignment: 16)
        defer { raw.deallocate() }
        var done = 0
        while done < i.byteCount {
            let n = pread(fd, raw + done, i.byteCount - done, off_t(i.byteOffset + done))
            guard n > 0 else {
                throw SafeTensorsError.offsetsOutOfRange(file: url.path, tensor: name, end: i.byteOffset + done, dataSize: file.size)
            }
            done += n
        }
        return Tensor(shape: i.shape) { out in
            if let dst = out.baseAddress { widen(floatType, UnsafeRawPointer(raw), into: dst, count: i.count) }
        }
    }

    /// An integer tensor (I64/I32) as Swift integers, e.g. token ids.
    public func integers(_ name: String) throws -> [Int] {
        let i = try info(name)
        let src = rawBytes(i)
        switch i.dtype {
        case .i64: return (0..<i.count).map { Int(src.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self)) }
        case .i32: return (0..<i.count).map { Int(src.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self)) }
        default:
            var out: [Int] = []
            out.reserveCapacity(i.count)
            for v in try tensor(name).data {
                guard v.isFinite, v == v.rounded(), let k = Int(exactly: v) else {
                    throw SafeTensorsError.badEntry(file: url.path, tensor: name, reason: "holds \(v), which is not an integer")
                }
                out.append(k)
            }
            return out
        }
    }
}

extension SafeTensorsFile {
    /// A float tensor as float64 values (F64 read exactly, narrower floats widened).
    public func doubles(_ name: String) throws -> [Double] {
        let i = try info(name)
        if i.dtype == .f64 {
            let src = rawBytes(i)
            return (0..<i.count).map { Double(bitPattern: UInt64(littleEndian: src.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self))) }
        }
        guard i.dtype.floatType != nil else {
            throw SafeTensorsError.badEntry(file: url.path, tensor: name, reason: "holds integers (\(i.dtype.rawValue)), not floats")
        }
        return try tensor(name).data.map(Double.init)
    }
}
