import Foundation
import Testing
@testable import Mechanic
@testable import MechanicAnalysis

/// Eigenvalues compared as multisets: both sorted by (real, imag).
func expectEigenvaluesClose(_ ours: [Eigenvalue], re: [Double], im: [Double], _ what: String,
                            sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(ours.count == re.count, "\(what): \(ours.count) eigenvalues vs \(re.count)", sourceLocation: sourceLocation)
    let key: (Eigenvalue, Eigenvalue) -> Bool = { ($0.real, $0.imag) < ($1.real, $1.imag) }
    let a = ours.sorted(by: key)
    let b = zip(re, im).map { Eigenvalue(real: $0, imag: $1) }.sorted(by: key)
    let scale = b.map(\.magnitude).max() ?? 1
    for (x, y) in zip(a, b) {
        let d = ((x.real - y.real) * (x.real - y.real) + (x.imag - y.imag) * (x.imag - y.imag)).squareRoot()
        #expect(d <= 1e-5 + 1e-4 * scale, "\(what): eigenvalue \(x) vs reference \(y)", sourceLocation: sourceLocation)
    }
}

/// `model.OV` / `model.QK` as FactoredMatrix against TransformerLens 2.18.
@Suite(.enabled(if: HeadsFixtures.modelsAvailable, "fixture models not generated (set MECHANIC_FIXTURES)"))
struct CircuitsFactoredMatrixTests {
    @Test(arguments: ["gpt2-tiny", "pythia-tiny", "llama-tiny"])
    func everyHeadsOVAndQKValuesMatch(name: String) throws {
        let model = try HeadsFixtures.load(name)
        let circuits = try HeadsFixtures.manifest(name)["circuits"] as? [[String: Any]] ?? []
        #expect(circuits.count == model.config.nLayers * model.config.nHeads)
        let (OV, QK) = (try model.OV, try model.QK)
        for c in circuits {
            let (l, h) = (c["layer"] as? Int ?? -1, c["head"] as? Int ?? -1)
            for (kind, fm) in [("OV", OV[l][h]), ("QK", QK[l][h])] {
                let ref = c[kind] as? [String: Any] ?? [:]
                let what = "\(name) \(kind) L\(l)H\(h)"
                #expect(fm.shape == HeadsFixtures.ints(ref["shape"]))
                expectHeadsClose(fm.S, Tensor(shape: [fm.mdim], data: HeadsFixtures.doubles(ref["S"]).map(Float.init)), what + " S")
                expectHeadsClose(Tensor(shape: [1], data: [fm.norm()]), Tensor(shape: [1], data: [Float(ref["norm"] as? Double ?? 0)]), what + " norm")
                expectHeadsClose(fm.getCorner(3), HeadsFixtures.tensor(ref["corner"]), what + " corner")
                expectEigenvaluesClose(try fm.eigenvalues, re: HeadsFixtures.doubles(ref["eig_re"]), im: HeadsFixtures.doubles(ref["eig_im"]), what)
            }
        }
    }

    @Test func productsTransposeAndDenseValuesMatch() throws {
        let model = try HeadsFixtures.load("gpt2-tiny")
        let ref = try SafeTensorsFile(url: HeadsFixtures.reference("gpt2-tiny", "heads_factored.safetensors"))
        let ov00 = try model.OV(layer: 0, head: 0)
        expectHeadsClose(ov00.AB, try ref.tensor("OV.0.0.AB"), "OV.0.0.AB")
        expectHeadsClose(try ov00.BA, try ref.tensor("OV.0.0.BA"), "OV.0.0.BA")
        expectHeadsClose(try model.QK(layer: 1, head: 3).AB, try ref.tensor("QK.1.3.AB"), "QK.1.3.AB")

        let products = try HeadsFixtures.manifest("gpt2-tiny")["products"] as? [String: Any] ?? [:]
        let qk10 = try model.QK(layer: 1, head: 0)
        // FM @ FM, FM @ matrix, matrix @ FM: TransformerLens's choice of factors, and the values.
        let W_U5 = Tensor(shape: [64, 5], data: (0..<64).flatMap { m in (0..<5).map { model.weights.W_U[m, $0] } })
        let W_E5 = Tensor(shape: [5, 64], data: Array(model.weights.W_E.data.prefix(5 * 64)))
        let cases: [(String, FactoredMatrix)] = [("OV00_QK", try ov00.matmul(qk10)), ("OV00_WU5", try ov00.matmul(W_U5)),
                                                 ("WE5_OV00", try ov00.leftMultiplied(by: W_E5))]
        for (key, fm) in cases {
            let r = products[key] as? [String: Any] ?? [:]
            #expect(fm.A.shape == HeadsFixtures.ints(r["A_shape"]), "\(key) A")
            #expect(fm.B.shape == HeadsFixtures.ints(r["B_shape"]), "\(key) B")
            expectHeadsClose(fm.AB, try ref.tensor("prod.\(key).AB"), "\(key) AB")
            let s = HeadsFixtures.doubles(r["S"]).map(Float.init)
            expectHeadsClose(Tensor(shape: [s.count], data: Array(fm.S.data.prefix(s.count))), Tensor(shape: [s.count], data: s), "\(key) S")
            expectHeadsClose(Tensor(shape: [1], data: [fm.norm()]), Tensor(shape: [1], data: [Float(r["norm"] as? Double ?? 0)]), "\(key) norm")
        }
        let prod = try #require(products["OV00_QK"] as? [String: Any])
        expectEigenvaluesClose(try cases[0].1.eigenvalues, re: HeadsFixtures.doubles(prod["eig_re"]), im: HeadsFixtures.doubles(prod["eig_im"]), "OV00_QK")
        // Transpose: (AB)ᵀ.
        expectHeadsClose(qk10.T.AB, qk10.AB.permuted([1, 0]), "QK transpose")
    }

    @Test func groupedQueryHeadsShareTheirKeyValueHead() throws {
        let model = try HeadsFixtures.load("llama-tiny")
        #expect(model.config.nKeyValueHeads == 2 && model.config.nHeads == 6)
        let ref = try SafeTensorsFile(url: HeadsFixtures.reference("llama-tiny", "heads_factored.safetensors"))
        expectHeadsClose(try model.OV(layer: 1, head: 1).AB, try ref.tensor("OV.1.1.AB"), "llama OV.1.1.AB")
        // Heads 0–2 read KV head 0: their OV circuits share W_V.
        #expect(try model.OV(layer: 1, head: 0).A == model.OV(layer: 1, head: 2).A)
        #expect(try model.OV(layer: 1, head: 0).A != model.OV(layer: 1, head: 3).A)
        #expect(throws: MechanicError.self) { try model.OV(layer: 2, head: 0) }
        #expect(throws: MechanicError.self) { try model.QK(layer: 0, head: 6) }
    }

    @Test(arguments: ["gpt2-tiny", "pythia-tiny", "llama-tiny"])
    func compositionScoresMatch(name: String) throws {
        let model = try HeadsFixtures.load(name)
        let comp = try HeadsFixtures.manifest(name)["composition"] as? [String: Any] ?? [:]
        for mode in CompositionMode.allCases {
            let ours = try model.allCompositionScores(mode)
            let theirs = HeadsFixtures.tensor(comp[mode.rawValue])
            expectHeadsClose(ours, theirs, "\(name) composition \(mode)")
            #expect(theirs.data.contains { $0 > 0.05 }, "the reference must not be all zeros")
        }
    }
}

/// FactoredMatrix on matrices whose answers are known.
@Suite struct CircuitsFactoredMatrixGroundTruthTests {
    /// A deterministic pseudo-random matrix.
    static func matrix(_ rows: Int, _ cols: Int, seed: UInt64) -> Tensor {
        var rng = SplitMix64(seed: seed)
        return Tensor(shape: [rows, cols], data: (0..<(rows * cols)).map { _ in Float(Double(rng.next() >> 11) / Double(1 << 53)) * 2 - 1 })
    }

    @Test func svdReconstructsTheProductWithOrthonormalFactors() throws {
        let fm = try FactoredMatrix(Self.matrix(12, 4, seed: 1), Self.matrix(4, 9, seed: 2))
        let d = fm.svd()
        #expect(d.U.shape == [12, 4] && d.S.shape == [4] && d.Vh.shape == [9, 4])
        // U diag(S) Vhᵀ == AB
        var us = d.U
        for i in 0..<12 { for j in 0..<4 { us[i, j] *= d.S[j] } }
        expectHeadsClose(matmul(us, d.Vh, transB: true), fm.AB, "U S Vhᵀ")
        expectHeadsClose(matmul(d.U.permuted([1, 0]), d.U), identity(4), "UᵀU")
        expectHeadsClose(matmul(d.Vh.permuted([1, 0]), d.Vh), identity(4), "VhᵀVh")
        #expect(zip(d.S.data, d.S.data.dropFirst()).allSatisfy { $0 >= $1 })
        // Frobenius norm two ways.
        let direct = fm.AB.data.reduce(0) { $0 + $1 * $1 }.squareRoot()
        #expect(abs(fm.norm() - direct) < 1e-5 * direct)
        // The even factorisation is the same matrix; collapse_l / collapse_r keep the norm.
        expectHeadsClose(fm.makeEven().AB, fm.AB, "make_even")
        #expect(abs(fm.collapseL().data.reduce(0) { $0 + $1 * $1 }.squareRoot() - direct) < 1e-4)
        #expect(abs(fm.collapseR().data.reduce(0) { $0 + $1 * $1 }.squareRoot() - direct) < 1e-4)
        // Corners and scalars.
        expectHeadsClose(fm.corner(3), Tensor(shape: [3, 3], data: (0..<3).flatMap { i in (0..<3).map { fm.AB[i, $0] } }), "corner")
        expectHeadsClose((fm * 2).AB, { var t = fm.AB; t.scale(by: 2); return t }(), "scalar")
        #expect(fm.getCorner(20).shape == [12, 9])
    }

    @Test func eigenvaluesOfKnownMatrices() throws {
        // Rotation by 90° scaled by 2 (eigenvalues ±2i) ⊕ diag(3, −1), conjugated by a fixed basis.
        let core: [Double] = [0, -2, 0, 0,
                              2, 0, 0, 0,
                              0, 0, 3, 0,
                              0, 0, 0, -1]
        let p: [Double] = [1, 2, 0, 1, 0, 1, 1, 0, 1, 0, 1, 1, 2, 1, 0, 1]
        let pinvCore = try invert4(p)
        let m = HeadLinearAlgebra.matmul(HeadLinearAlgebra.matmul(p, core, m: 4, k: 4, n: 4), pinvCore, m: 4, k: 4, n: 4)
        let ev = try HeadLinearAlgebra.eigenvalues(m, n: 4)
        expectEigenvaluesClose(ev, re: [3, 0, 0, -1], im: [0, 2, -2, 0], "similar to rotation ⊕ diag")
        #expect(ev.first.map { abs($0.real - 3) < 1e-9 } == true, "sorted by magnitude")
        // Upper triangular: the diagonal. Larger: a companion matrix of (x−1)(x−2)…(x−6).
        let tri = try HeadLinearAlgebra.eigenvalues([5, 1, 7, 0, -2, 4, 0, 0, 0.5], n: 3)
        expectEigenvaluesClose(tri, re: [5, -2, 0.5], im: [0, 0, 0], "triangular")
        let coeffs: [Double] = [720, -1764, 1624, -735, 175, -21]  // c0…c5 of x⁶ − 21x⁵ + … + 720
        var companion = [Double](repeating: 0, count: 36)
        for i in 1..<6 { companion[i * 6 + i - 1] = 1 }
        for i in 0..<6 { companion[i * 6 + 5] = -coeffs[i] }
        expectEigenvaluesClose(try HeadLinearAlgebra.eigenvalues(companion, n: 6), re: [1, 2, 3, 4, 5, 6], im: [0, 0, 0, 0, 0, 0], "companion")
        // Low-rank product: AB's nonzero eigenvalues are BA's.
        let fm = try FactoredMatrix(Self.matrix(10, 3, seed: 3), Self.matrix(3, 10, seed: 4))
        let big = try HeadLinearAlgebra.eigenvalues(fm.AB.data.map(Double.init), n: 10).prefix(3)
        let small = try fm.eigenvalues
        expectEigenvaluesClose(small, re: big.map(\.real), im: big.map(\.imag), "AB vs BA")
        #expect(throws: MechanicError.self) { try FactoredMatrix(Self.matrix(3, 2, seed: 1), Self.matrix(2, 4, seed: 1)).BA }
        #expect(throws: MechanicError.self) { try FactoredMatrix(Self.matrix(3, 2, seed: 1), Self.matrix(3, 4, seed: 1)) }
    }

    @Test func wideFactorsAndVectorsFollowTransformerLens() throws {
        // ldim < mdim: matrix @ FM keeps `other` as A and the product as B.
        let fm = try FactoredMatrix(Self.matrix(3, 5, seed: 5), Self.matrix(5, 4, seed: 6))
        let left = try fm.leftMultiplied(by: Self.matrix(2, 3, seed: 7))
        #expect(left.A.shape == [2, 3] && left.B.shape == [3, 4])
        let right = try fm.matmul(Self.matrix(4, 2, seed: 8))
        #expect(right.A.shape == [3, 4] && right.B.shape == [4, 2])  // rdim 4 ≤ mdim 5: FactoredMatrix(AB, other)
        let v: [Float] = [1, -1, 0.5, 2]
        let dense = fm.AB
        let expected = (0..<3).map { i in (0..<4).reduce(Float(0)) { $0 + dense[i, $1] * v[$1] } }
        for (a, b) in zip(try fm.apply(v), expected) { #expect(abs(a - b) < 1e-5) }
        let u: [Float] = [0.5, 1, -2]
        let expectedLeft = (0..<4).map { j in (0..<3).reduce(Float(0)) { $0 + u[$1] * dense[$1, j] } }
        for (a, b) in zip(try fm.applyLeft(u), expectedLeft) { #expect(abs(a - b) < 1e-5) }
        // The SVD of a rank-deficient wide product still reconstructs it.
        let d = fm.svd()
        var us = d.U
        for i in 0..<us.shape[0] { for j in 0..<us.shape[1] { us[i, j] *= d.S[j] } }
        expectHeadsClose(matmul(us, d.Vh, transB: true), dense, "wide SVD")
    }

    func identity(_ n: Int) -> Tensor {
        var t = Tensor(zeros: [n, n])
        for i in 0..<n { t[i, i] = 1 }
        return t
    }

    /// Gauss–Jordan inverse of a 4×4 matrix (test helper).
    func invert4(_ m: [Double]) throws -> [Double] {
        var a = m, inv = (0..<16).map { $0 % 5 == 0 ? 1.0 : 0.0 }
        for c in 0..<4 {
            let p = try #require((c..<4).max { abs(a[$0 * 4 + c]) < abs(a[$1 * 4 + c]) })
            for j in 0..<4 { a.swapAt(c * 4 + j, p * 4 + j); inv.swapAt(c * 4 + j, p * 4 + j) }
            let d = a[c * 4 + c]
            for j in 0..<4 { a[c * 4 + j] /= d; inv[c * 4 + j] /= d }
            for r in 0..<4 where r != c {
                let f = a[r * 4 + c]
                for j in 0..<4 { a[r * 4 + j] -= f * a[c * 4 + j]; inv[r * 4 + j] -= f * inv[c * 4 + j] }
            }
        }
        return inv
    }
}
