import Foundation
import Testing
import FixtureSupport
@testable import Mechanic
@testable import MechanicAnalysis

/// The reference fixtures (`Tests/Fixtures`, from `scripts/reference/` with TransformerLens 2.18);
/// `MECHANIC_FIXTURES` overrides the location. (Named apart from other test files' helpers.)
enum LensFixtures {
    static var root: URL { TestFixtures.root }

    static let models = ["gpt2-tiny", "pythia-tiny", "llama-tiny"]

    static func model(_ name: String) -> URL { TestFixtures.model(name) }
    static func reference(_ name: String, _ file: String) -> URL { TestFixtures.reference(name, file) }

    /// `analysis.json` of a model.
    static func analysis(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: reference(name, "analysis.json"))
        return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
    }

    static func ints(_ any: Any?) -> [Int] { TestFixtures.ints(any) }
    static func floats(_ any: Any?) -> [Float] { (any as? [Any])?.compactMap { ($0 as? NSNumber)?.floatValue } ?? [] }
    static func strings(_ any: Any?) -> [String] { (any as? [Any])?.compactMap { $0 as? String } ?? [] }

    /// Loads (once per process) a fixture model.
    static func load(_ name: String, processed: Bool = true) throws -> HookedTransformer {
        try TestFixtures.load(name, processed: processed)
    }
}

/// `|a − b| ≤ 1e-5 + 1e-4 · max|b|` over every element; the message names the tensor.
func lensExpectClose(_ a: Tensor, _ b: Tensor, _ name: String, sourceLocation: SourceLocation = #_sourceLocation) {
    guard a.shape == b.shape else {
        Issue.record("\(name): shape \(a.shape) vs reference \(b.shape)", sourceLocation: sourceLocation)
        return
    }
    let c = Comparison(name, a, b)
    #expect(c.ok, "\(c)", sourceLocation: sourceLocation)
}

/// Compares two scalars with the same rule (`scale` = the reference magnitude to use).
func lensExpectClose(_ a: Float, _ b: Float, scale: Float? = nil, _ name: String, sourceLocation: SourceLocation = #_sourceLocation) {
    let allowed = 1e-5 + 1e-4 * (scale ?? abs(b))
    #expect(abs(a - b) <= allowed, "\(name): \(a) vs \(b) (allowed \(allowed))", sourceLocation: sourceLocation)
}
