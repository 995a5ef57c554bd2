import Testing
@testable import Mechanic
@testable import MechanicAnalysis

/// `PosSlice` follows Python indexing (TransformerLens's `utils.Slice`).
@Suite struct LensPosSliceTests {
    @Test func pythonSemantics() throws {
        // Expected values are Python's `list(range(10))[s]`.
        #expect(try PosSlice.range(start: -3, stop: nil, step: 1).positions(count: 10) == [7, 8, 9])
        #expect(try PosSlice.range(start: nil, stop: nil, step: -2).positions(count: 10) == [9, 7, 5, 3, 1])
        #expect(try PosSlice.range(start: 2, stop: 8, step: 3).positions(count: 10) == [2, 5])
        #expect(try PosSlice.range(start: 5, stop: 2, step: 1).positions(count: 10) == [])
        #expect(try PosSlice.range(start: -100, stop: 100, step: 4).positions(count: 10) == [0, 4, 8])
        #expect(try PosSlice.index(-1).positions(count: 10) == [9])
        #expect(try PosSlice.indices([0, -1, 3]).positions(count: 10) == [0, 9, 3])
        #expect(throws: MechanicError.self) { try PosSlice.index(10).positions(count: 10) }
        #expect(throws: MechanicError.self) { try PosSlice.range(start: 0, stop: 3, step: 0).positions(count: 10) }
    }

    @Test func applyAlongAnAxis() throws {
        let t = Tensor(shape: [2, 3, 2], data: (0..<12).map(Float.init))   // [batch, pos, d]
        let last = try PosSlice.index(-1).apply(t, axis: -2)
        #expect(last.shape == [2, 2] && last.data == [4, 5, 10, 11])
        let picked = try PosSlice.indices([2, 0]).apply(t, axis: 1)
        #expect(picked.shape == [2, 2, 2] && picked.data == [4, 5, 0, 1, 10, 11, 6, 7])
        #expect(try PosSlice.all.apply(t, axis: 1) == t)
    }
}
