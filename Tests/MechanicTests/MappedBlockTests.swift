import Foundation
import Testing
@testable import Mechanic
import MechanicIO
import MechanicTensor

/// Streamed Llama-family blocks are widened and transposed in one pass from the mapped
/// checkpoint into reused buffers (`LlamaArchitecture.mappedBlock`). Their weights, and so every
/// forward result, must equal a resident load's bit for bit: the same widening and the same
/// single product per value (the folded norm weight), only in another order.
@Suite struct MappedBlockTests {
    static let rows = [[1, 279, 410, 358, 289, 259, 403, 13], [1, 99, 7, 300, 41]]

    /// Every large and small tensor of every block, and the logits, equal bit for bit.
    func expectSame(_ resident: HookedTransformer, _ streamed: HookedTransformer, _ context: String) throws {
        #expect(streamed.streamsWeights && !resident.streamsWeights)
        for l in 0..<resident.config.nLayers {
            let (a, b) = (try streamed.block(l), try resident.block(l))
            let pairs: [(String, Tensor?, Tensor?)] = [
                ("wQKV", a.wQKV, b.wQKV), ("bQKV", a.bQKV, b.bQKV), ("W_O", a.W_O, b.W_O), ("b_O", a.b_O, b.b_O),
                ("W_in", a.W_in, b.W_in), ("W_gate", a.W_gate, b.W_gate), ("b_in", a.b_in, b.b_in),
                ("W_out", a.W_out, b.W_out), ("b_out", a.b_out, b.b_out), ("ln1W", a.ln1W, b.ln1W), ("ln2W", a.ln2W, b.ln2W)]
            for (name, x, y) in pairs {
                #expect(x?.shape == y?.shape, "\(context) block \(l) \(name) shape")
                let same = x?.data.map(\.bitPattern) == y?.data.map(\.bitPattern)
                #expect(same, "\(context) block \(l) \(name) differs from the resident load")
            }
        }
        let batch = try TokenBatch.padding(Self.rows, padId: 0, side: .left)
        for _ in 0..<2 {   // the second forward reuses the first one's buffers
            let x = try #require(try streamed.forward(batch).logits)
            let y = try #require(try resident.forward(batch).logits)
            #expect(x.data.map(\.bitPattern) == y.data.map(\.bitPattern), "\(context): logits differ")
        }
    }

    @Test(arguments: ["llama-tiny", "qwen2-tiny"], [true, false])
    func mappedBlocksEqualResidentBlocks(name: String, processed: Bool) throws {
        let url = Fixtures.model(name)
        let processing: WeightProcessing = processed ? .default : .none
        let resident = try HookedTransformer.load(url, processing: processing, streaming: false)
        let streamed = try HookedTransformer.load(url, processing: processing, streaming: true)
        try expectSame(resident, streamed, "\(name) processed=\(processed)")
    }

    /// The llama-tiny fixture stored as bf16 and as f16 (as real checkpoints are): the mapped
    /// path widens those bytes to the same floats as the resident load.
    @Test(arguments: [DType.bf16, .f16])
    func halfPrecisionCheckpointsStreamToTheSameWeights(dtype: DType) throws {
        let source = Fixtures.model("llama-tiny")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mechanic-mapped-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.copyItem(at: source.appendingPathComponent("config.json"), to: dir.appendingPathComponent("config.json"))
        let file = try SafeTensorsFile(url: source.appendingPathComponent("model.safetensors"))
        var writer = SafeTensorsWriter()
        for name in file.names { writer.add(name, try file.tensor(name), as: dtype) }
        try writer.write(to: dir.appendingPathComponent("model.safetensors"))
        for processing in [WeightProcessing.default, .none] {
            let resident = try HookedTransformer.load(dir, processing: processing, streaming: false)
            let streamed = try HookedTransformer.load(dir, processing: processing, streaming: true)
            try expectSame(resident, streamed, "llama-tiny as \(dtype) processed=\(processing == .default)")
        }
    }

    /// A block kept by the caller keeps its values when later blocks are loaded (the reused
    /// buffers are copy-on-write).
    @Test func aKeptBlockIsNotOverwrittenByTheNextLoad() throws {
        let streamed = try HookedTransformer.load(Fixtures.model("llama-tiny"), streaming: true)
        let first = try streamed.block(0)
        let copy = first.W_out?.data
        let second = try streamed.block(1)
        #expect(first.W_out?.data == copy)
        #expect(second.W_out?.data != copy)
        #expect(try streamed.block(0).W_out?.data == copy)
    }

    /// `widenTransposed` against the definition, on shapes that are not multiples of its tiles.
    @Test func widenTransposedIsTheTransposeTimesTheScale() {
        let (rows, cols, ldd) = (70, 131, 75)
        let values = (0..<(rows * cols)).map { Float(($0 * 7919) % 2003 - 1001) / 97 }
        let scale = (0..<cols).map { Float($0 % 17) / 5 - 1.3 }
        for withScale in [true, false] {
            var out = [Float](repeating: -7, count: cols * ldd)
            values.withUnsafeBytes { src in
                scale.withUnsafeBufferPointer { g in
                    out.withUnsafeMutableBufferPointer { d in
                        widenTransposed(.f32, src.baseAddress!, rows: rows, cols: cols, scale: withScale ? g.baseAddress : nil,
                                        into: d.baseAddress!, ldd: ldd)
                    }
                }
            }
            let expected = (0..<(cols * ldd)).map { k -> Float in
                let (i, o) = (k / ldd, k % ldd)
                guard o < rows else { return -7 }   // columns past `rows` are not written
                return withScale ? values[o * cols + i] * scale[i] : values[o * cols + i]
            }
            #expect(out == expected, "scale: \(withScale)")
        }
    }
}
