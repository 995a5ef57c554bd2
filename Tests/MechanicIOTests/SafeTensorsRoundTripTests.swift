import Foundation
import Testing
import MechanicIO
import MechanicTensor

@Suite struct SafeTensorsRoundTripTests {
    @Test func f32ValuesRoundTripBitExact() throws {
        let dir = try makeTempDir()
        defer { cleanUp(dir) }
        let values: [Float] = [0, -0.0, 1, -1.5, .pi, Float(bitPattern: 0x0001_1234), -3.4028235e38, .infinity, -.infinity, 123456.789, 7e-8, 42]
        var w = SafeTensorsWriter()
        w.add("w", Tensor(shape: [3, 4], data: values))
        let url = dir.appendingPathComponent("a.safetensors")
        try w.write(to: url)

        let f = try SafeTensorsFile(url: url)
        let info = try f.info("w")
        #expect(info.dtype == .f32)
        #expect(info.shape == [3, 4])
        #expect(info.byteCount == 48)
        let t = try f.tensor("w")
        #expect(t.shape == [3, 4])
        #expect(t.data.map(\.bitPattern) == values.map(\.bitPattern))
    }

    @Test func f16ValuesRoundTripExactly() throws {
        let dir = try makeTempDir()
        defer { cleanUp(dir) }
        // Exactly representable in binary16: normals, the largest, the smallest normal and subnormal.
        let exact: [Float] = [0, 1, -2, 0.5, 65504, -65504, 6.1035156e-05, 5.9604645e-08, 1.5, -0.333251953125]
        var w = SafeTensorsWriter()
        w.add("h", Tensor(shape: [exact.count], data: exact), as: .f16)
        w.add("rounded", Tensor(shape: [2], data: [0.1, 1e6]), as: .f16)
        let url = dir.appendingPathComponent("h.safetensors")
        try w.write(to: url)

        let f = try SafeTensorsFile(url: url)
        #expect(try f.info("h").dtype == .f16)
        #expect(try f.info("h").byteCount == 2 * exact.count)
        #expect(try f.tensor("h").data == exact)
        // 0.1 rounds to the nearest half, 0.0999755859375; 1e6 overflows to +inf.
        #expect(try f.tensor("rounded").data == [0.0999755859375, .infinity])
        // The raw stored bits are IEEE half, little-endian.
        let raw = f.rawBytes(try f.info("h"))
        #expect(raw.loadUnaligned(fromByteOffset: 2, as: UInt16.self) == 0x3C00)  // 1.0
    }

    @Test func bf16ValuesRoundTripExactly() throws {
        let dir = try makeTempDir()
        defer { cleanUp(dir) }
        // bf16 keeps the high half of a float32: largest finite, smallest normal, a subnormal.
        let exact: [Float] = [0, 1, -3.5, Float(bitPattern: 0x7F7F_0000), Float(bitPattern: 0x0080_0000),
                              -0.0078125, 256, Float(bitPattern: 0x0001_0000)]
        var w = SafeTensorsWriter()
        w.add("b", Tensor(shape: [2, 4], data: exact), as: .bf16)
        w.add("third", Tensor(shape: [1], data: [1.0 / 3.0]), as: .bf16)
        let url = dir.appendingPathComponent("b.safetensors")
        try w.write(to: url)

        let f = try SafeTensorsFile(url: url)
        #expect(try f.info("b").dtype == .bf16)
        #expect(try f.tensor("b").data.map(\.bitPattern) == exact.map(\.bitPattern))
        #expect(try f.tensor("third").data == [0.333984375])  // round to nearest even
    }

    @Test func i64ValuesRoundTripExactly() throws {
        let dir = try makeTempDir()
        defer { cleanUp(dir) }
        let ids = [0, 1, -1, 50256, 1 << 40, Int(Int64.max), Int(Int64.min)]
        var w = SafeTensorsWriter()
        w.add("ids", int64: ids)
        w.add("grid", int64: [1, 2, 3, 4, 5, 6], shape: [2, 3])
        let url = dir.appendingPathComponent("i.safetensors")
        try w.write(to: url)

        let f = try SafeTensorsFile(url: url)
        #expect(try f.info("ids").dtype == .i64)
        #expect(try f.integers("ids") == ids)
        #expect(try f.info("grid").shape == [2, 3])
        #expect(try f.integers("grid") == [1, 2, 3, 4, 5, 6])
        #expect(try f.tensor("grid").data == [1, 2, 3, 4, 5, 6])
    }

    @Test func metadataScalarsAndEmptyTensorsRoundTrip() throws {
        let dir = try makeTempDir()
        defer { cleanUp(dir) }
        var w = SafeTensorsWriter()
        w.metadata = ["format": "pt", "note": "tiny"]
        w.add("scalar", Tensor(shape: [], data: [2.5]))
        w.add("empty", Tensor(shape: [0, 3], data: []))
        w.add("one", Tensor(shape: [1, 1], data: [-7]))  // dims of 1 must not be read as booleans
        let url = dir.appendingPathComponent("m.safetensors")
        try w.write(to: url)

        let f = try SafeTensorsFile(url: url)
        #expect(f.metadata == ["format": "pt", "note": "tiny"])
        #expect(f.names == ["empty", "one", "scalar"])
        #expect(try f.tensor("scalar").data == [2.5])
        #expect(try f.tensor("scalar").shape == [])
        #expect(try f.tensor("empty").shape == [0, 3])
        #expect(try f.tensor("one").data == [-7])
        // The writer pads the header to 8 bytes, so the data section is aligned.
        let length = try Data(contentsOf: url).prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        #expect(length % 8 == 0)
    }

    @Test func readsUnalignedDataSectionFromOtherWriters() throws {
        let dir = try makeTempDir()
        defer { cleanUp(dir) }
        let url = dir.appendingPathComponent("odd.safetensors")
        // A 59-byte header: the F32 data starts at byte 67, not a multiple of 4.
        let header = #"{"x":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}}   "#
        #expect(header.utf8.count % 4 != 0)
        try writeRawSafeTensors(url, header: header, data: floatBytes([1.25, -2, 1e30]))
        #expect(try SafeTensorsFile(url: url).tensor("x").data == [1.25, -2, 1e30])
    }

    @Test func writerRejectsDuplicateNamesAndShapeMismatch() throws {
        let dir = try makeTempDir()
        defer { cleanUp(dir) }
        let url = dir.appendingPathComponent("dup.safetensors")
        var w = SafeTensorsWriter()
        w.add("a", Tensor(shape: [1], data: [1]))
        w.add("a", Tensor(shape: [1], data: [2]))
        let dup = caught(SafeTensorsError.self) { try w.write(to: url) }
        #expect(dup?.description.contains("'a'") == true)

        var w2 = SafeTensorsWriter()
        w2.add("ids", int64: [1, 2, 3], shape: [2, 2])
        let mismatch = caught(SafeTensorsError.self) { try w2.write(to: url) }
        #expect(mismatch == .sizeMismatch(file: url.path, tensor: "ids", shape: [2, 2], dtype: "I64", byteCount: 24))
        #expect(!FileManager.default.fileExists(atPath: url.path))
    }

    #if os(Linux)
    /// The tensor bytes live in a file-backed mapping of the safetensors file (listed in
    /// /proc/self/maps with its path), not in a heap copy.
    @Test func dataIsMemoryMappedFromTheFile() throws {
        let dir = try makeTempDir()
        defer { cleanUp(dir) }
        var w = SafeTensorsWriter()
        w.add("big", Tensor(shape: [256, 256], data: (0..<65536).map { Float($0) }))
        let url = dir.appendingPathComponent("mapped.safetensors")
        try w.write(to: url)

        let f = try SafeTensorsFile(url: url)
        let address = UInt(bitPattern: f.rawBytes(try f.info("big")))
        // Read to EOF: /proc files report size 0, and String(contentsOfFile:) stops after one page.
        guard let handle = FileHandle(forReadingAtPath: "/proc/self/maps") else {
            Issue.record("cannot read /proc/self/maps")
            return
        }
        let maps = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
        let path = url.resolvingSymlinksInPath().path
        let ranges: [(UInt, UInt)] = maps.split(separator: "\n").compactMap { line in
            guard line.hasSuffix(path), let dash = line.firstIndex(of: "-"),
                  let space = line.firstIndex(of: " ") else { return nil }
            guard let lo = UInt(line[..<dash], radix: 16),
                  let hi = UInt(line[line.index(after: dash)..<space], radix: 16) else { return nil }
            return (lo, hi)
        }
        #expect(!ranges.isEmpty, "the file is not mapped")
        #expect(ranges.contains { $0.0 <= address && address + 65536 * 4 <= $0.1 })
        #expect(try f.tensor("big")[255, 255] == 65535)
    }
    #endif
}
