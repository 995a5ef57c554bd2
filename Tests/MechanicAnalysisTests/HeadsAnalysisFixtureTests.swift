import Foundation
import Testing
@testable import Mechanic
@testable import MechanicAnalysis

/// The same functions against the shared analysis references (`analysis_heads.safetensors`,
/// `analysis_factored.safetensors`, written by `scripts/reference/make_analysis_fixtures.py`): a
/// second, independently generated set of TransformerLens numbers.
extension HeadsFixtures {
    static let analysisModels = ["gpt2-tiny", "pythia-tiny", "llama-tiny"]
    static let analysisAvailable = modelsAvailable && analysisModels.allSatisfy {
        FileManager.default.fileExists(atPath: reference($0, "analysis_heads.safetensors").path)
            && FileManager.default.fileExists(atPath: reference($0, "analysis_factored.safetensors").path)
    }
}

@Suite(.enabled(if: HeadsFixtures.analysisAvailable, "analysis_* references not generated"))
struct HeadsAnalysisFixtureTests {
    static let models = HeadsFixtures.analysisModels

    @Test(arguments: models)
    func detectHeadAllSixCombinations(name: String) throws {
        let model = try HeadsFixtures.load(name)
        let ref = try SafeTensorsFile(url: HeadsFixtures.reference(name, "analysis_heads.safetensors"))
        let tokens = try ref.integers("tokens")
        for kind in HeadKind.allCases {
            for measure in ErrorMeasure.allCases {
                let ours = try model.detectHead(tokens: tokens, pattern: .head(kind), options: HeadDetectionOptions(errorMeasure: measure))
                let theirs = try ref.tensor("\(kind.rawValue)_\(measure.rawValue)")
                // abs is rounded to 0.001: allow one rounding step where float noise sits on a boundary.
                let tolerance: Float = measure == .abs ? 0.0011 : 1e-5 + 1e-4 * theirs.maxAbs
                let worst = zip(ours.scores.data, theirs.data).map { abs($0 - $1) }.max() ?? .infinity
                #expect(worst <= tolerance, "\(name) \(kind.rawValue) \(measure): max diff \(worst)")
                if measure == .abs {
                    let exact = zip(ours.scores.data, theirs.data).filter { abs($0 - $1) < 1e-6 }.count
                    #expect(exact >= theirs.count - 1, "\(name) \(kind.rawValue) abs: only \(exact) of \(theirs.count) exact")
                }
            }
        }
    }

    @Test(arguments: models)
    func factoredCircuitsOfL1H0(name: String) throws {
        let model = try HeadsFixtures.load(name)
        let ref = try SafeTensorsFile(url: HeadsFixtures.reference(name, "analysis_factored.safetensors"))
        for (kind, fm) in [("OV", try model.OV(layer: 1, head: 0)), ("QK", try model.QK(layer: 1, head: 0))] {
            expectHeadsClose(fm.A, try ref.tensor("\(kind)_A"), "\(name) \(kind) A")
            expectHeadsClose(fm.B, try ref.tensor("\(kind)_B"), "\(name) \(kind) B")
            expectHeadsClose(fm.AB, try ref.tensor("\(kind)_AB"), "\(name) \(kind) AB")
            expectHeadsClose(try fm.BA, try ref.tensor("\(kind)_BA"), "\(name) \(kind) BA")
            expectHeadsClose(fm.S, try ref.tensor("\(kind)_S"), "\(name) \(kind) S")
            expectHeadsClose(Tensor(shape: [1], data: [fm.norm()]), try ref.tensor("\(kind)_norm"), "\(name) \(kind) norm")
            let re = try ref.tensor("\(kind)_eigenvalues_real"), im = try ref.tensor("\(kind)_eigenvalues_imag")
            expectEigenvaluesClose(try fm.eigenvalues, re: re.data.map(Double.init), im: im.data.map(Double.init), "\(name) \(kind)")
            // Singular vectors: equal to TransformerLens's up to the sign of each column.
            expectColumnsEqualUpToSign(fm.U, try ref.tensor("\(kind)_U"), fm.S, "\(name) \(kind) U")
            expectColumnsEqualUpToSign(fm.Vh, try ref.tensor("\(kind)_Vh"), fm.S, "\(name) \(kind) Vh")
        }
        for mode in CompositionMode.allCases {
            expectHeadsClose(try model.allCompositionScores(mode), try ref.tensor("composition_scores_\(mode.rawValue)"), "\(name) composition \(mode)")
        }
    }

    /// Columns with a well-separated singular value are compared after aligning their sign.
    func expectColumnsEqualUpToSign(_ ours: Tensor, _ theirs: Tensor, _ s: Tensor, _ what: String) {
        guard ours.shape == theirs.shape else {
            Issue.record("\(what): shape \(ours.shape) vs \(theirs.shape)")
            return
        }
        let (rows, k) = (ours.shape[0], ours.shape[1])
        for j in 0..<k {
            let gap = min(j > 0 ? s[j - 1] - s[j] : .infinity, j + 1 < k ? s[j] - s[j + 1] : .infinity)
            guard gap > 1e-3 * s[0], s[j] > 1e-4 * s[0] else { continue }
            var dot: Float = 0
            for i in 0..<rows { dot += ours[i, j] * theirs[i, j] }
            let sign: Float = dot < 0 ? -1 : 1
            let worst = (0..<rows).map { abs(sign * ours[$0, j] - theirs[$0, j]) }.max() ?? 0
            #expect(worst < 1e-3, "\(what) column \(j): max diff \(worst) after sign alignment")
        }
    }
}
