import Testing
@testable import MechanicTensor

@Suite struct HalfTests {
    @Test func f16RoundTripsKnownValues() {
        let cases: [(UInt16, Float)] = [(0x3C00, 1), (0xC000, -2), (0x3555, 0.333251953125), (0x0001, 5.960464477539063e-08), (0x7BFF, 65504), (0x0000, 0)]
        for (bits, value) in cases {
            #expect(floatFromF16(bits) == value)
            #expect(f16FromFloat(value) == bits)
        }
        #expect(floatFromF16(0x7C00) == .infinity)
    }

    @Test func bf16RoundsToNearestEven() {
        #expect(floatFromBF16(0x3F80) == 1)
        #expect(bf16FromFloat(1) == 0x3F80)
        #expect(bf16FromFloat(Float(bitPattern: 0x3F80_8000)) == 0x3F80)  // tie → even
        #expect(bf16FromFloat(Float(bitPattern: 0x3F81_8000)) == 0x3F82)  // tie → even (up)
        #expect(floatFromBF16(bf16FromFloat(-3.140625)) == -3.140625)
    }

    @Test func sgemmMatchesNaiveProduct() {
        let a = Tensor(shape: [2, 3], data: [1, 2, 3, 4, 5, 6])
        let b = Tensor(shape: [3, 2], data: [7, 8, 9, 10, 11, 12])
        #expect(matmul(a, b).data == [58, 64, 139, 154])
        let bt = b.permuted([1, 0])
        #expect(matmul(a, bt, transB: true).data == [58, 64, 139, 154])
    }
}
