import Foundation
import Mechanic

extension ActivationProbe {
    /// An MLP neuron written `LAYER:INDEX` (`5:1234`), both ≥ 0 (`neurons --neuron`).
    public init(neuron text: String) throws {
        let parts = text.split(separator: ":")
        guard parts.count == 2, let l = Int(parts[0].trimmingCharacters(in: .whitespaces)),
              let n = Int(parts[1].trimmingCharacters(in: .whitespaces)), l >= 0, n >= 0 else {
            throw MechanicError.invalidArgument("--neuron \(text): expected LAYER:INDEX with both ≥ 0, e.g. 5:1234")
        }
        self = .neuron(layer: l, index: n)
    }
}

extension NeuronSearchOptions {
    /// Context tokens kept before and after each example, written `BEFORE,AFTER` (`12,4`).
    public static func parseContext(_ text: String) throws -> (before: Int, after: Int) {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 2, let before = parts[0], let after = parts[1], before >= 0, after >= 0 else {
            throw MechanicError.invalidArgument("--context \(text): expected BEFORE,AFTER, e.g. 12,4")
        }
        return (before, after)
    }
}

extension EmbeddingKind {
    /// `raw,mlp0` (`congruence --embedding`); nil text: raw,mlp0, or raw,block0 for an
    /// attention-only model (which has no MLP 0).
    public static func parseList(_ text: String?, attnOnly: Bool) throws -> [EmbeddingKind] {
        try (text ?? (attnOnly ? "raw,block0" : "raw,mlp0")).split(separator: ",").map { k in
            let name = k.trimmingCharacters(in: .whitespaces)
            guard let v = EmbeddingKind(rawValue: name) else { throw MechanicError.invalidArgument("--embedding \(name): expected raw, mlp0 or block0") }
            return v
        }
    }
}
