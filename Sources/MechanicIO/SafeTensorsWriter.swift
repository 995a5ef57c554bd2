import Foundation
import MechanicTensor

/// Writes safetensors files: float tensors as F32 (or narrowed to F16/BF16), integers as I64.
/// A tensor may also be generated while it is written (streaming mode: `add(_:shape:as:generate:)`),
/// so a checkpoint larger than memory is written holding one chunk at a time.
public struct SafeTensorsWriter {
    public enum Payload {
        case float(Tensor, DType)
        case int64(shape: [Int], values: [Int])
        /// Float64 values (e.g. partial sums that are added up later), stored as F64.
        case float64(shape: [Int], values: [Double])
        /// Values produced in order, a chunk at a time, by the closure (called during `write`).
        case generated(shape: [Int], DType, (UnsafeMutableBufferPointer<Float>) -> Void)
        /// A whole float32 tensor made by the closure when its turn comes in `write` (and dropped
        /// after it is written), so a file of many large tensors is written holding few of them.
        case produced(shape: [Int], () throws -> Tensor)
    }

    /// When set, every tensor of at least one page starts at a file offset congruent to
    /// `phase` modulo the page size, with zero-filled F32 tensors named `__pad__.<k>` between
    /// (the file stays plain safetensors). A reader can then map such a tensor's whole pages
    /// over memory whose first element sits `phase` bytes into a page (`MappedArray`).
    public var pagePhase: Int?

    /// Floats per chunk of a generated tensor (16 MiB of float32).
    static let chunkElements = 1 << 22

    private var entries: [(String, Payload)] = []
    public var metadata: [String: String] = [:]

    public init() {}

    public mutating func add(_ name: String, _ tensor: Tensor, as dtype: DType = .f32) {
        entries.append((name, .float(tensor, dtype)))
    }

    public mutating func add(_ name: String, int64 values: [Int], shape: [Int]? = nil) {
        entries.append((name, .int64(shape: shape ?? [values.count], values: values)))
    }

    public mutating func add(_ name: String, float64 values: [Double], shape: [Int]? = nil) {
        entries.append((name, .float64(shape: shape ?? [values.count], values: values)))
    }

    /// Streaming mode: a tensor of `shape` whose values `generate` fills in order, one chunk
    /// (at most 2²² values) per call, while the file is written; nothing larger is held in memory.
    public mutating func add(_ name: String, shape: [Int], as dtype: DType = .f32,
                             generate: @escaping (UnsafeMutableBufferPointer<Float>) -> Void) {
        entries.append((name, .generated(shape: shape, dtype, generate)))
    }

    /// A float32 tensor of `shape` produced by `produce` while the file is written (see `Payload.produced`).
    public mutating func add(_ name: String, shape: [Int], produce: @escaping () throws -> Tensor) {
        entries.append((name, .produced(shape: shape, produce)))
    }

    /// Writes the file (see `write(to: OutputFile)`); `url` is checked as an `OutputFile` (a
    /// directory, device or FIFO is refused; a file this program read may be rewritten).
    public func write(to url: URL) throws {
        try write(to: OutputFile(url.path, option: "the output file", refusesInputs: false))
    }

    /// Writes the file, streaming tensor bytes (no whole-file buffer) into a temporary file that is
    /// renamed into place (`OutputFile`: an existing directory, device or input is never replaced).
    /// Throws when a name repeats, a shape does not hold its values, or the disk write fails.
    public func write(to output: OutputFile) throws {
        let url = output.url
        var sized: [(name: String, payload: Payload, dtype: String, shape: [Int], bytes: Int)] = []
        var seen = Set<String>()
        for (name, payload) in entries {
            let (dtype, shape, count, elementSize): (String, [Int], Int, Int)
            switch payload {
            case let .float(t, d): (dtype, shape, count, elementSize) = (d.rawValue, t.shape, t.count, d.byteSize)
            case let .int64(s, v): (dtype, shape, count, elementSize) = ("I64", s, v.count, 8)
            case let .float64(s, v): (dtype, shape, count, elementSize) = ("F64", s, v.count, 8)
            case let .generated(s, d, _): (dtype, shape, count, elementSize) = (d.rawValue, s, s.reduce(1, *), d.byteSize)
            case let .produced(s, _): (dtype, shape, count, elementSize) = ("F32", s, s.reduce(1, *), 4)
            }
            guard name != "__metadata__", seen.insert(name).inserted else {
                throw SafeTensorsError.badEntry(file: url.path, tensor: name, reason: "the name is reserved or added twice")
            }
            guard shape.allSatisfy({ $0 >= 0 }), shape.reduce(1, *) == count else {
                throw SafeTensorsError.sizeMismatch(file: url.path, tensor: name, shape: shape, dtype: dtype, byteCount: count * elementSize)
            }
            sized.append((name, payload, dtype, shape, count * elementSize))
        }
        let (json, padding) = try header(sized.map { ($0.name, $0.dtype, $0.shape, $0.bytes) })
        try output.write { handle in
            var lengthLE = UInt64(json.count).littleEndian
            try handle.write(contentsOf: Data(bytes: &lengthLE, count: 8))
            try handle.write(contentsOf: json)
            for (i, entry) in sized.enumerated() {
                if padding[i] > 0 { try handle.write(contentsOf: Data(count: padding[i])) }
                switch entry.payload {
                case let .float(t, .f32):
                    try Self.writeBytes(t, handle)
                case let .float(t, d):
                    try Self.writeNarrowed(t.data[...], d, handle)
                case let .produced(shape, produce):
                    let t = try produce()
                    guard t.shape == shape else {
                        throw SafeTensorsError.wrongShape(file: url.path, tensor: entry.name, expected: shape, found: t.shape)
                    }
                    try Self.writeBytes(t, handle)
                case let .generated(shape, d, generate):
                    let count = shape.reduce(1, *)
                    var chunk = [Float](repeating: 0, count: min(count, Self.chunkElements))
                    var done = 0
                    while done < count {
                        let m = min(chunk.count, count - done)
                        chunk.withUnsafeMutableBufferPointer { generate(UnsafeMutableBufferPointer(rebasing: $0[..<m])) }
                        if d == .f32 {
                            try chunk[..<m].withUnsafeBytes { try handle.write(contentsOf: Data($0)) }
                        } else {
                            try Self.writeNarrowed(chunk[..<m], d, handle)
                        }
                        done += m
                    }
                case let .int64(_, v):
                    let wide = v.map { Int64($0).littleEndian }
                    try wide.withUnsafeBytes { try handle.write(contentsOf: Data($0)) }
                case let .float64(_, v):
                    let bits = v.map { $0.bitPattern.littleEndian }
                    try bits.withUnsafeBytes { try handle.write(contentsOf: Data($0)) }
                }
            }
        }
    }

    /// The header JSON (padded with spaces to 8 bytes) and the padding bytes before each entry.
    /// With `pagePhase`, the header length is fixed first (page multiples, grown until the JSON
    /// fits) so that the data's file offsets, and so the padding, are known.
    private func header(_ items: [(name: String, dtype: String, shape: [Int], bytes: Int)]) throws -> (Data, [Int]) {
        let page = 4096
        var reserved = 0
        while true {
            var header: [String: Any] = [:]
            if !metadata.isEmpty { header["__metadata__"] = metadata }
            var offset = 0
            var padding = [Int](repeating: 0, count: items.count)
            for (i, item) in items.enumerated() {
                if let phase = pagePhase, item.bytes >= page {
                    let fileOffset = 8 + reserved + offset
                    let pad = ((phase - fileOffset) % page + page) % page   // bytes to the next offset ≡ phase
                    if pad > 0 {
                        header["__pad__.\(i)"] = ["dtype": "F32", "shape": [pad / 4], "data_offsets": [offset, offset + pad]]
                        padding[i] = pad
                        offset += pad
                    }
                }
                header[item.name] = ["dtype": item.dtype, "shape": item.shape, "data_offsets": [offset, offset + item.bytes]]
                offset += item.bytes
            }
            var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
            guard pagePhase != nil else {
                while json.count % 8 != 0 { json.append(0x20) }  // pad with spaces to 8-byte alignment
                return (json, padding)
            }
            if reserved >= json.count {
                json.append(contentsOf: [UInt8](repeating: 0x20, count: reserved - json.count))
                return (json, padding)
            }
            reserved = (json.count + 64 + page - 1) / page * page   // room for longer offsets; retried
        }
    }

    /// A float32 tensor's bytes, written from its own buffer (no copy into a `Data`).
    private static func writeBytes(_ t: Tensor, _ handle: FileHandle) throws {
        try t.data.withUnsafeBytes { raw in
            guard let base = raw.baseAddress, raw.count > 0 else { return }
            try handle.write(contentsOf: Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: base), count: raw.count, deallocator: .none))
        }
    }

    /// F16/BF16 values of `values`, little-endian.
    private static func writeNarrowed(_ values: ArraySlice<Float>, _ d: DType, _ handle: FileHandle) throws {
        let narrow: [UInt16] = values.map { (d == .bf16 ? bf16FromFloat($0) : f16FromFloat($0)).littleEndian }
        try narrow.withUnsafeBytes { try handle.write(contentsOf: Data($0)) }
    }
}
